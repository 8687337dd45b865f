// Static checks of deploy/terraform, run by check_terraform.sh:
//   node check_terraform.js <path to @cdktf/hcl2json> <deploy/terraform>
// Each directory with .tf files is one Terraform module. For each: every file
// parses; every var.X / local.X used is declared and every one declared is
// used; module calls pass only variables the callee declares and every one it
// requires, and read only outputs it has. For the mirrortap module: the
// resources and arguments the deployment needs (issue 7) are present.
"use strict";
const fs = require("fs");
const path = require("path");
const hcl = require(process.argv[2]);
const tfRoot = process.argv[3];

let failures = 0;
const ok = (msg) => console.log(`ok: ${msg}`);
const fail = (msg) => { console.log(`FAIL: ${msg}`); failures++; };
const check = (msg, cond, detail) => { if (cond) ok(msg); else fail(detail ? `${msg}: ${detail}` : msg); };

function moduleDirs(dir) {
  const out = [];
  const entries = fs.readdirSync(dir, { withFileTypes: true });
  if (entries.some((e) => e.isFile() && e.name.endsWith(".tf"))) out.push(dir);
  for (const e of entries) {
    if (e.isDirectory() && !e.name.startsWith(".")) out.push(...moduleDirs(path.join(dir, e.name)));
  }
  return out;
}

// Every string in a parsed tree: hcl2json keeps expressions as "${...}" strings.
function strings(node, out = []) {
  if (typeof node === "string") out.push(node);
  else if (Array.isArray(node)) node.forEach((n) => strings(n, out));
  else if (node && typeof node === "object") Object.values(node).forEach((n) => strings(n, out));
  return out;
}

function refs(tree, prefix) {
  const re = new RegExp(`\\b${prefix}\\.([A-Za-z_][A-Za-z0-9_-]*)`, "g");
  const found = new Set();
  for (const s of strings(tree)) for (const m of s.matchAll(re)) found.add(m[1]);
  return found;
}

// Merges the files of one module: { file: parsed } and a list of blocks by kind.
async function loadModule(dir) {
  const files = {};
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith(".tf")).sort()) {
    const file = path.join(dir, name);
    try {
      files[name] = await hcl.parse(name, fs.readFileSync(file, "utf8"));
    } catch (e) {
      fail(`${path.relative(tfRoot, file)} parses: ${e}`);
    }
  }
  const blocks = { variable: {}, output: {}, locals: {}, module: {}, resource: {}, data: {}, provider: {}, terraform: [] };
  for (const tree of Object.values(files)) {
    for (const [name, body] of Object.entries(tree.variable || {})) blocks.variable[name] = body[0];
    for (const [name, body] of Object.entries(tree.output || {})) blocks.output[name] = body[0];
    for (const l of tree.locals || []) Object.assign(blocks.locals, l);
    for (const [name, body] of Object.entries(tree.module || {})) blocks.module[name] = body[0];
    for (const kind of ["resource", "data"]) {
      for (const [type, byName] of Object.entries(tree[kind] || {})) {
        for (const [name, body] of Object.entries(byName)) {
          (blocks[kind][type] ||= {})[name] = body[0];
        }
      }
    }
    for (const [name, body] of Object.entries(tree.provider || {})) blocks.provider[name] = body;
    blocks.terraform.push(...(tree.terraform || []));
  }
  return { dir, files, blocks };
}

function checkDeclaredAndUsed(mod) {
  const rel = path.relative(tfRoot, mod.dir);
  const trees = Object.values(mod.files);
  const varUse = refs(trees, "var");
  const declared = new Set(Object.keys(mod.blocks.variable));
  const undeclared = [...varUse].filter((v) => !declared.has(v));
  const unused = [...declared].filter((v) => !varUse.has(v));
  check(`${rel}: every var.X used is declared`, undeclared.length === 0, undeclared.join(", "));
  check(`${rel}: every declared variable is used`, unused.length === 0, unused.join(", "));
  const undocumented = [...declared].filter((v) => !mod.blocks.variable[v].description || !mod.blocks.variable[v].type);
  check(`${rel}: every variable has a description and a type`, undocumented.length === 0, undocumented.join(", "));
  const noDesc = Object.keys(mod.blocks.output).filter((o) => !mod.blocks.output[o].description);
  check(`${rel}: every output has a description`, noDesc.length === 0, noDesc.join(", "));

  const localUse = refs(trees, "local");
  const localDecl = new Set(Object.keys(mod.blocks.locals));
  const localUndeclared = [...localUse].filter((l) => !localDecl.has(l));
  const localUnused = [...localDecl].filter((l) => !localUse.has(l));
  check(`${rel}: every local.X used is declared`, localUndeclared.length === 0, localUndeclared.join(", "));
  check(`${rel}: every local is used`, localUnused.length === 0, localUnused.join(", "));

  // templatefile("${path.module}/x") must name a file that exists.
  for (const s of strings(trees)) {
    for (const m of s.matchAll(/templatefile\("\$\{path\.module\}\/([^"]+)"/g)) {
      check(`${rel}: template ${m[1]} exists`, fs.existsSync(path.join(mod.dir, m[1])));
    }
  }
}

async function checkModuleCalls(mod, loaded) {
  const rel = path.relative(tfRoot, mod.dir);
  const trees = Object.values(mod.files);
  for (const [name, call] of Object.entries(mod.blocks.module)) {
    const target = path.resolve(mod.dir, call.source);
    const callee = loaded.get(target);
    if (!callee) { fail(`${rel}: module "${name}" source ${call.source} is a module in this tree`); continue; }
    const meta = new Set(["source", "version", "providers", "count", "for_each", "depends_on"]);
    const args = Object.keys(call).filter((k) => !meta.has(k));
    const vars = callee.blocks.variable;
    const unknown = args.filter((a) => !(a in vars));
    const required = Object.keys(vars).filter((v) => !("default" in vars[v]));
    const missing = required.filter((v) => !args.includes(v));
    check(`${rel}: module "${name}" passes only variables it declares`, unknown.length === 0, unknown.join(", "));
    check(`${rel}: module "${name}" gets every required variable`, missing.length === 0, missing.join(", "));
    const used = new Set();
    for (const s of strings(trees)) for (const m of s.matchAll(new RegExp(`\\bmodule\\.${name}\\.([A-Za-z_][A-Za-z0-9_]*)`, "g"))) used.add(m[1]);
    const noSuch = [...used].filter((o) => !(o in callee.blocks.output));
    check(`${rel}: module "${name}" outputs read exist`, noSuch.length === 0, noSuch.join(", "));
  }
}

// --- what the mirrortap module must contain --------------------------------
const has = (v) => v !== undefined && v !== null;
const mentions = (v, text) => has(v) && JSON.stringify(v).includes(text);
const first = (v) => (Array.isArray(v) ? v[0] : v);

function requireResources(mod) {
  const rel = path.relative(tfRoot, mod.dir);
  const r = mod.blocks.resource, d = mod.blocks.data;
  const all = (type) => Object.values(r[type] || {});
  const one = (type, pred = () => true) => all(type).find(pred);
  const need = (what, cond) => check(`${rel}: ${what}`, !!cond);

  // target_type picks the kind: an internal NLB (UDP 4789) or a Gateway Load
  // Balancer (GENEVE 6081). terraform_validate.sh's mock-provider tests apply
  // both; here, that both branches are written as they must be.
  const targetType = mod.blocks.variable.target_type;
  need("variable target_type defaults to nlb and accepts only nlb or gwlb", targetType &&
    targetType.default === "nlb" && mentions(targetType.validation, "[\\\"nlb\\\", \\\"gwlb\\\"]"));
  const nlb = one("aws_lb");
  need("aws_lb: an internal network load balancer, or a gateway one for gwlb",
    nlb && mentions(nlb.internal, "true") && mentions(nlb.load_balancer_type, "\\\"network\\\"") && mentions(nlb.load_balancer_type, "\\\"gateway\\\"") &&
    mentions(nlb.load_balancer_type, "local.gwlb"));
  need("aws_lb is placed in var.subnet_ids", nlb && mentions(nlb.subnets, "var.subnet_ids"));

  const listener = one("aws_lb_listener");
  need("aws_lb_listener: UDP 4789 (none for a GWLB)", listener && mentions(listener.protocol, "\\\"UDP\\\"") && mentions(listener.port, "vxlan_port"));
  need("aws_lb_listener forwards to the target group",
    listener && first(listener.default_action).type === "forward" && mentions(first(listener.default_action).target_group_arn, "aws_lb_target_group."));

  const tg = one("aws_lb_target_group");
  const hc = tg && first(tg.health_check);
  need("target group: instances, UDP 4789 or GENEVE 6081", tg && tg.target_type === "instance" &&
    mentions(tg.protocol, "\\\"UDP\\\"") && mentions(tg.protocol, "\\\"GENEVE\\\"") && mentions(tg.port, "vxlan_port") && mentions(tg.port, "geneve_port"));
  need("locals: VXLAN on 4789, GENEVE on 6081", mod.blocks.locals.vxlan_port === 4789 && mod.blocks.locals.geneve_port === 6081);
  need("target group: HTTP health check of /healthz on the metrics port",
    hc && hc.protocol === "HTTP" && hc.path === "/healthz" && mentions(hc.port, "var.metrics_port"));
  need("health check matcher 200-399 behind a GWLB (ELBv2 refuses anything else there), 200 behind an NLB",
    hc && mentions(hc.matcher, "local.gwlb ? \\\"200-399\\\" : \\\"200\\\""));
  need("target group: deregistration delay and connection termination set",
    tg && mentions(tg.deregistration_delay, "var.") && mentions(tg.connection_termination, "true"));

  // flow_affinity: "none" (default) or "source_ip", validated; stickiness by
  // source IP is rendered only for source_ip (terraform_validate.sh plans both).
  const affinity = mod.blocks.variable.flow_affinity;
  need("variable flow_affinity defaults to none and accepts only none or source_ip", affinity &&
    affinity.default === "none" && mentions(affinity.validation, "[\\\"none\\\", \\\"source_ip\\\"]"));
  const sticky = tg && [].concat(tg.dynamic || []).map((dyn) => dyn.stickiness).filter(has).map(first)[0];
  const stickyContent = sticky && first(sticky.content);
  need("target group: stickiness only when flow_affinity is source_ip, by source IP, enabled",
    tg && !has(tg.stickiness) && sticky &&
    mentions(sticky.for_each, "var.flow_affinity == \\\"source_ip\\\"") &&
    stickyContent && mentions(stickyContent.type, "\\\"source_ip\\\"") && mentions(stickyContent.type, "source_ip_dest_ip") && stickyContent.enabled === true);
  need("output flow_affinity", mentions(mod.blocks.output.flow_affinity, "var.flow_affinity"));

  // No surprise rolls: the AMI is an explicit input (an id or a pinned SSM
  // parameter), looked up by id only; nothing searches for the newest image.
  const amis = Object.values(d.aws_ami || {});
  need("no data aws_ami with most_recent or a name search: the image is pinned",
    amis.length > 0 && amis.every((a) => !has(a.most_recent) && !has(a.owners) && !mentions(a.filter, "debian-12-")));
  const collectorAmi = (d.aws_ami || {}).collector;
  need("data aws_ami looks the pinned image up by id (ami_id or the SSM parameter), for its root device name",
    collectorAmi && mentions(collectorAmi.filter, "image-id") && mentions(collectorAmi.filter, "var.ami_id") && mentions(collectorAmi.filter, "data.aws_ssm_parameter.ami"));
  need("ami_ssm_parameter refuses a .../latest path", mentions(mod.blocks.variable.ami_ssm_parameter, "/latest"));
  need("package_sha256 is required (no default)", mod.blocks.variable.package_sha256 && !("default" in mod.blocks.variable.package_sha256));
  need("local.ami is the pinned image", mentions(mod.blocks.locals.ami, "data.aws_ami.collector"));

  const lt = one("aws_launch_template");
  const ebs = lt && first(first(lt.block_device_mappings).ebs);
  need("launch template: the AMI by data source", lt && mentions(lt.image_id, "local.ami.id"));
  need("launch template: the volume on the AMI's own root device", lt && mentions(first(lt.block_device_mappings).device_name, "local.ami.root_device_name"));
  need("launch template: gp3 size, throughput and IOPS derived from the target rate", ebs && ebs.volume_type === "gp3" &&
    mentions(ebs.volume_size, "local.disk_size_gb") && mentions(ebs.throughput, "local.disk_throughput_mibps") && mentions(ebs.iops, "local.disk_iops") &&
    mentions(mod.blocks.locals.target_bytes_s, "var.target_network_in_mbps") && mentions(mod.blocks.locals.disk_size_gb, "var.disk_buffer_minutes"));
  need("launch template: key pair from var.key_name", lt && mentions(lt.key_name, "var.key_name"));
  need("launch template: user data from the template", lt && mentions(lt.user_data, "user_data.sh.tftpl"));
  need("launch template: instance profile", lt && mentions(lt.iam_instance_profile, "aws_iam_instance_profile."));
  need("launch template: IMDSv2 required", lt && first(lt.metadata_options).http_tokens === "required");
  need("launch template: collector security group", lt && mentions(lt.vpc_security_group_ids, "aws_security_group.collector"));

  const asg = one("aws_autoscaling_group");
  need("ASG across var.subnet_ids", asg && mentions(asg.vpc_zone_identifier, "var.subnet_ids"));
  need("ASG registers with the target group", asg && mentions(asg.target_group_arns, "aws_lb_target_group."));
  need("ASG uses the launch template", asg && mentions(asg.launch_template, "aws_launch_template."));
  need("ASG has min and max size", asg && has(asg.min_size) && has(asg.max_size));
  need("ASG has an instance refresh setting", asg && has(asg.instance_refresh) && mentions(asg.instance_refresh, "Rolling"));
  const prefs = asg && first(first(asg.instance_refresh).preferences);
  need("instance refresh launches before it terminates (min healthy 100, max healthy above 100 by default)", prefs &&
    mentions(prefs.min_healthy_percentage, "var.refresh_min_healthy_percentage") && mentions(prefs.max_healthy_percentage, "var.refresh_max_healthy_percentage") &&
    mod.blocks.variable.refresh_min_healthy_percentage.default === 100 && mod.blocks.variable.refresh_max_healthy_percentage.default > 100);
  need("ASG health-check grace period from var.health_check_grace_seconds", asg && mentions(asg.health_check_grace_period, "var.health_check_grace_seconds"));
  need("ASG named as the collector config names it", asg && mentions(asg.name, "local.asg_name"));

  const policy = one("aws_autoscaling_policy", (p) => p.policy_type === "TargetTrackingScaling");
  need("target tracking scaling policy on network-in or CPU", policy &&
    mentions(policy.target_tracking_configuration, "ASGAverageNetworkIn") &&
    mentions(policy.target_tracking_configuration, "ASGAverageCPUUtilization"));
  const hook = one("aws_autoscaling_lifecycle_hook", (h) => mentions(h.lifecycle_transition, "TERMINATING"));
  need("lifecycle hook on termination", hook);
  need("the hook's timeout is sized for the drain (drain_seconds + margin)", hook && mentions(hook.heartbeat_timeout, "local.hook_timeout") &&
    mentions(mod.blocks.locals.hook_timeout, "var.drain_seconds + var.lifecycle_margin_seconds") && mentions(hook.name, "local.drain_hook"));
  need("ASG group metrics enabled (the capacity alarms read them)", asg && mentions(asg.enabled_metrics, "GroupInServiceInstances") && mentions(asg.enabled_metrics, "GroupDesiredCapacity"));
  const alarms = all("aws_cloudwatch_metric_alarm");
  need("CloudWatch alarms: unhealthy targets, capacity, EBS burst balance, the collectors' drops and health",
    alarms.length > 0 && ["UnHealthyHostCount", "GroupInServiceInstances", "GroupDesiredCapacity", "EBSByteBalance%", "EBSIOBalance%", "PacketsDropped", "Healthy"].every((m) =>
      mentions(mod.blocks.locals.alarms, m) || alarms.some((a) => mentions(a, m))));

  // Captures to S3: the bucket, the endpoint, the rendered config.
  const bucket = (r.aws_s3_bucket || {}).captures;
  need("optional capture bucket", bucket && mentions(bucket.count, "var.create_capture_bucket"));
  const sse = one("aws_s3_bucket_server_side_encryption_configuration");
  need("capture bucket: SSE by default", sse && mentions(sse.rule, "sse_algorithm"));
  const pab = one("aws_s3_bucket_public_access_block");
  need("capture bucket: every public access blocked", pab &&
    ["block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"].every((k) => pab[k] === true));
  const lcfg = one("aws_s3_bucket_lifecycle_configuration");
  need("capture bucket: expiry after var.capture_retention_days, incomplete uploads aborted", lcfg &&
    mentions(lcfg, "var.capture_retention_days") && mentions(lcfg, "abort_incomplete_multipart_upload"));
  // Evidence (deploy/README.md, "Evidence retention"); evidence.tftest.hcl
  // applies it. Here, that the pieces are written as they must be.
  need("capture bucket: Object Lock at creation, never a replacement for it later",
    bucket && mentions(bucket.object_lock_enabled, "var.capture_object_lock") && mentions(first(bucket.lifecycle).ignore_changes, "object_lock_enabled"));
  const lock = one("aws_s3_bucket_object_lock_configuration");
  need("capture bucket: default retention of var.capture_object_lock_mode for var.capture_object_lock_days, after versioning",
    lock && mentions(lock.rule, "var.capture_object_lock_mode") && mentions(lock.rule, "var.capture_object_lock_days") && mentions(lock.depends_on, "aws_s3_bucket_versioning.captures"));
  const versioning = one("aws_s3_bucket_versioning");
  need("capture bucket: versioning whenever Object Lock is on", versioning && mentions(versioning.count, "local.capture_versioning") &&
    mentions(mod.blocks.locals.capture_versioning, "var.capture_object_lock") && mentions(versioning.versioning_configuration, "Enabled"));
  const bucketPolicy = d.aws_iam_policy_document && d.aws_iam_policy_document.capture_bucket;
  need("capture bucket policy: plain HTTP denied; other encryption denied only when asked for (the collector names none)",
    one("aws_s3_bucket_policy") && bucketPolicy && mentions(bucketPolicy.statement, "aws:SecureTransport") &&
    mentions(bucketPolicy.dynamic, "local.capture_upload_denials") && mentions(mod.blocks.locals.sse_header_present, "Null") &&
    mentions(mod.blocks.locals.capture_upload_denials, "local.sse_header_present"));
  const key = one("aws_kms_key");
  need("capture key made here: rotation, kept from destruction", key && key.enable_key_rotation === true && first(key.lifecycle).prevent_destroy === true);
  need("capture bucket: access logs to var.capture_access_log_bucket", one("aws_s3_bucket_logging", (l) => mentions(l.target_bucket, "var.capture_access_log_bucket")));
  need("capture bucket: expiry never shorter than the lock", lcfg && mentions(first(lcfg.lifecycle).precondition, "var.capture_object_lock_days"));
  const s3ep = one("aws_vpc_endpoint", (e) => e.vpc_endpoint_type === "Gateway");
  need("gateway VPC endpoint for S3", s3ep && mentions(s3ep.service_name, ".s3"));
  const cfg = mod.blocks.locals.collector_config;
  need("rendered config gets upload, lifecycle, listen_geneve and the total budget", cfg &&
    ["upload", "lifecycle", "cloudwatch", "geneve_port", "retain_total_bytes", "allowed_vnis"].every((k) => mentions(cfg, k)));

  // GWLB: endpoint service, endpoint, mirror target of that type.
  const svc = one("aws_vpc_endpoint_service");
  need("GWLB endpoint service offering the load balancer to this account and var.gwlb_allowed_principals", svc && mentions(svc.gateway_load_balancer_arns, "aws_lb.this.arn") &&
    mentions(svc.allowed_principals, "local.gwlb_principals") && mentions(mod.blocks.locals.gwlb_principals, "var.gwlb_allowed_principals") &&
    mentions(mod.blocks.locals.gwlb_principals, "data.aws_caller_identity.current.account_id"));
  need("GWLB endpoints of that service, one per zone", one("aws_vpc_endpoint", (e) => e.vpc_endpoint_type === "GatewayLoadBalancer" &&
    mentions(e.service_name, "aws_vpc_endpoint_service.") && mentions(e.for_each, "local.gwlb_endpoint_subnets")));

  need("security groups for the NLB and the collectors", r.aws_security_group && r.aws_security_group.nlb && r.aws_security_group.collector);
  const ingress = all("aws_vpc_security_group_ingress_rule");
  const into = (sg) => ingress.filter((i) => mentions(i.security_group_id, `aws_security_group.${sg}`));
  const udp4789 = (i) => i.ip_protocol === "udp" && mentions(i.from_port, "vxlan_port");
  const metricsTcp = (i) => i.ip_protocol === "tcp" && mentions(i.from_port, "var.metrics_port");
  need("NLB admits UDP 4789 from the sources' CIDRs", into("nlb").some((i) => udp4789(i) && mentions(i.for_each, "var.source_cidrs")));
  need("collectors admit UDP 4789 from the sources' CIDRs", into("collector").some((i) => udp4789(i) && mentions(i.for_each, "var.source_cidrs")));
  need("collectors admit UDP 4789 from the NLB", into("collector").some((i) => udp4789(i) && mentions(i.referenced_security_group_id, "aws_security_group.nlb")));
  need("collectors admit the health port from the NLB", into("collector").some((i) => metricsTcp(i) && mentions(i.referenced_security_group_id, "aws_security_group.nlb")));
  const metricsSources = into("collector").filter(metricsTcp).map((i) => JSON.stringify(i.for_each || i.referenced_security_group_id || i.cidr_ipv4));
  need("metrics port open only to the load balancer and var.monitoring_cidrs",
    metricsSources.length > 0 && metricsSources.every((s) => s.includes("var.monitoring_cidrs") || s.includes("aws_security_group.nlb") || s.includes("local.subnet_cidrs")));
  need("collectors admit GENEVE 6081 from the GWLB's subnets", into("collector").some((i) => i.ip_protocol === "udp" &&
    mentions(i.from_port, "geneve_port") && mentions(i.for_each, "local.subnet_cidrs")));
  const cidrRules = [...ingress, ...all("aws_vpc_security_group_egress_rule")].filter((i) => has(i.cidr_ipv4));
  need("every CIDR rule takes IPv4 or IPv6 by the CIDR's family", cidrRules.length > 0 && cidrRules.every((i) =>
    has(i.cidr_ipv6) || mentions(i.for_each, "local.subnet_cidrs")));
  need("SSH only from var.admin_cidrs, only with a key pair", into("collector").filter((i) => mentions(i.from_port, "22")).every((i) =>
    mentions(i.for_each, "local.ssh_cidrs")) && mentions(mod.blocks.locals.ssh_cidrs, "var.key_name == null"));

  const role = one("aws_iam_role");
  const assume = Object.values(d.aws_iam_policy_document || {}).find((p) => mentions(p, "ec2.amazonaws.com"));
  need("instance role assumable by EC2 only", role && assume && mentions(role.assume_role_policy, "data.aws_iam_policy_document."));
  need("instance profile for the role", one("aws_iam_instance_profile", (p) => mentions(p.role, "aws_iam_role.")));
  const grants = [...all("aws_iam_role_policy"), ...all("aws_iam_role_policy_attachment")];
  const docs = d.aws_iam_policy_document || {};
  need("upload grant: PutObject (and multipart), AbortMultipartUpload, GetObject (HeadObject) on PREFIX/*, no listing",
    docs.upload && mentions(docs.upload.statement, "${var.capture_prefix}/*") && !mentions(docs.upload, "s3:ListBucket") &&
    [].concat(docs.upload.statement).flatMap((st) => st.actions).sort().join() ===
      ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"].join());
  const kmsKey = mod.blocks.locals.capture_kms_key_arn;
  need("upload grant: the capture key (an existing bucket's, given or made here), GenerateDataKey and Decrypt", docs.upload &&
    mentions(docs.upload.dynamic, "local.capture_kms_key_arn") && mentions(kmsKey, "var.capture_kms_key_arn") && mentions(kmsKey, "aws_kms_key.captures") &&
    mentions(docs.upload.dynamic, "kms:GenerateDataKey") && mentions(docs.upload.dynamic, "kms:Decrypt"));
  need("lifecycle grant: Complete/RecordHeartbeat on its own group only", docs.lifecycle &&
    mentions(docs.lifecycle.statement, "autoScalingGroupName/${local.asg_name}") &&
    mentions(docs.lifecycle.statement, "autoscaling:CompleteLifecycleAction") && mentions(docs.lifecycle.statement, "autoscaling:RecordLifecycleActionHeartbeat"));
  need("SSM: Session Manager's own calls when var.enable_ssm (on by default), no managed policy, no ssm:GetParameter* on *",
    docs.ssm && mentions(docs.ssm.count, "var.enable_ssm") && mentions(docs.ssm.statement, "ssmmessages:OpenDataChannel") &&
    !JSON.stringify(r).includes("AmazonSSMManagedInstanceCore") && mod.blocks.variable.enable_ssm.default === true);
  need("CloudWatch: PutMetricData into var.cloudwatch_namespace only", docs.cloudwatch && mentions(docs.cloudwatch.statement, "cloudwatch:PutMetricData") &&
    mentions(docs.cloudwatch.statement, "cloudwatch:namespace") && mentions(docs.cloudwatch.statement, "var.cloudwatch_namespace"));
  need("every grant to the role is optional (count), none broad",
    grants.every((g) => has(g.count)) && !JSON.stringify(r).match(/"Action":\s*"\*"|AdministratorAccess|s3:\*/));

  const targets = r.aws_ec2_traffic_mirror_target || {};
  need("traffic mirror target on the NLB, and one on each zone's GWLB endpoint", targets.this && mentions(targets.this.network_load_balancer_arn, "aws_lb.") &&
    targets.gwlb && mentions(targets.gwlb.gateway_load_balancer_endpoint_id, "each.value.id") && mentions(targets.gwlb.for_each, "aws_vpc_endpoint.gwlb"));
  need("traffic mirror filter", one("aws_ec2_traffic_mirror_filter"));
  const rule = one("aws_ec2_traffic_mirror_filter_rule");
  need("filter rules from var.filter_rules", rule && mentions(rule.for_each, "var.filter_rules") &&
    ["traffic_direction", "rule_number", "rule_action", "source_cidr_block", "destination_cidr_block"].every((a) => has(rule[a])));
  const session = one("aws_ec2_traffic_mirror_session");
  need("mirror sessions for var.mirror_sessions (ENI, VNI, number, filter, target)", session &&
    mentions(session.for_each, "var.mirror_sessions") &&
    ["network_interface_id", "virtual_network_id", "session_number", "traffic_mirror_filter_id", "traffic_mirror_target_id"].every((a) => has(session[a])));

  for (const o of ["nlb_dns_name", "mirror_target_id"]) need(`output ${o}`, mod.blocks.output[o]);
  need("output nlb_dns_name is the NLB's DNS name", mentions(mod.blocks.output.nlb_dns_name, "aws_lb.this.dns_name"));
  need("output mirror_target_id is the NLB target's ID", mentions(mod.blocks.output.mirror_target_id, "local.nlb_target_id") &&
    mentions(mod.blocks.locals.nlb_target_id, "aws_ec2_traffic_mirror_target.this"));
  need("sessions go to the target of their source's zone", mentions(session && session.traffic_mirror_target_id, "local.session_target") &&
    mentions(mod.blocks.locals.session_target, "data.aws_network_interface.source"));
  need("requires the hashicorp/aws provider", mentions(mod.blocks.terraform, "hashicorp/aws"));
}

function requireExample(mod) {
  const rel = path.relative(tfRoot, mod.dir);
  check(`${rel}: uses the mirrortap module`, Object.values(mod.blocks.module).some((m) => m.source.endsWith("modules/mirrortap")));
  check(`${rel}: configures the aws provider`, !!mod.blocks.provider.aws);
  // The mirror target(s) sessions made elsewhere need: one behind an NLB, one per zone behind a GWLB.
  check(`${rel}: outputs nlb_dns_name`, !!mod.blocks.output.nlb_dns_name);
  check(`${rel}: outputs mirror_target_id or mirror_target_ids_by_az`, !!(mod.blocks.output.mirror_target_id || mod.blocks.output.mirror_target_ids_by_az));
}

(async () => {
  const dirs = moduleDirs(tfRoot);
  check("deploy/terraform has a module and an example root", dirs.some((d) => d.endsWith("modules/mirrortap")) && dirs.some((d) => d.includes("examples")));
  const loaded = new Map();
  for (const dir of dirs) {
    const mod = await loadModule(dir);
    loaded.set(path.resolve(dir), mod);
    ok(`${path.relative(tfRoot, dir)}: ${Object.keys(mod.files).length} .tf file(s) parsed`);
  }
  for (const mod of loaded.values()) {
    checkDeclaredAndUsed(mod);
    await checkModuleCalls(mod, loaded);
    if (mod.dir.endsWith(path.join("modules", "mirrortap"))) requireResources(mod);
    if (mod.dir.includes(`${path.sep}examples${path.sep}`)) requireExample(mod);
  }
  console.log(failures ? `${failures} check(s) failed` : "all checks passed");
  process.exit(failures ? 1 : 0);
})().catch((e) => { console.log(`FAIL: ${e.stack || e}`); process.exit(1); });

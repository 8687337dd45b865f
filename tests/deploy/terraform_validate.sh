#!/usr/bin/env bash
# `terraform validate` and `terraform fmt -check` on the module and the examples,
# fully offline; `terraform test` of the module against a mock aws provider and
# planned by the real one (tests/deploy/terraform/*.tftest.hcl: both target
# types, both flow affinities, uploads, IAM, the drain hook, disk sizing,
# operator access, the capture bucket as evidence storage); and
# the module's templates rendered by Terraform itself (the collector config is
# then checked by the collector, the user data by bash).
#
# Terraform is not in Debian's archive and HashiCorp's registry is not
# reachable from here, so this needs a terraform binary on PATH and an offline
# copy of the hashicorp/aws provider (a filesystem mirror: <dir>/registry.terraform.io/
# hashicorp/aws/<version>/<os_arch>/). Point MIRRORTAP_TF_PLUGIN_DIR at one, or
# leave one in /opt/tf-plugins or ~/.terraform.d/plugins. Without them: SKIP.
. "$(dirname "$0")/lib.sh"

command -v terraform >/dev/null 2>&1 ||
    skip "terraform not installed (Debian does not package it; HashiCorp's repository is not reachable)"

plugin_dir=""
for d in "${MIRRORTAP_TF_PLUGIN_DIR:-}" /opt/tf-plugins "$HOME/.terraform.d/plugins" /usr/share/terraform/plugins; do
    if [ -n "$d" ] && [ -d "$d/registry.terraform.io/hashicorp/aws" ]; then plugin_dir=$d; break; fi
done
[ -n "$plugin_dir" ] || skip "no offline copy of the hashicorp/aws provider (set MIRRORTAP_TF_PLUGIN_DIR)"

work="$MIRRORTAP_DEPLOY_WORK/terraform-validate"
rm -rf "$work" && mkdir -p "$work"
# Nothing may leave the machine: no version check, providers from the mirror only.
cat >"$work/terraformrc" <<RC
disable_checkpoint = true
provider_installation {
  filesystem_mirror {
    path    = "$plugin_dir"
    include = ["registry.terraform.io/hashicorp/*"]
  }
}
RC
export TF_CLI_CONFIG_FILE="$work/terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
unset TF_PLUGIN_CACHE_DIR
echo "terraform: $(terraform version | head -1); aws provider from $plugin_dir"

# Work on a copy so that .terraform/ and lock files never land in the tree.
cp -r "$DEPLOY_SRC/terraform" "$work/tf"

check "terraform fmt -check: every .tf is formatted" \
    terraform fmt -check -recursive -diff "$work/tf"

for root in modules/mirrortap examples/basic examples/gwlb; do
    dir="$work/tf/$root"
    if terraform -chdir="$dir" init -backend=false -input=false -no-color >"$work/init.log" 2>&1; then
        check "terraform validate $root" terraform -chdir="$dir" validate -no-color
    else
        cat "$work/init.log"
        fail "terraform init (offline) $root"
    fi
done

# The module's behaviour, applied against a mock aws provider (nlb, gwlb,
# operations, sessions and evidence .tftest.hcl: every run block asserts the
# resources, permissions, bucket policy and rendered config), and planned whole by the real aws provider with its data
# sources overridden (real_provider_plan.tftest.hcl: the provider's own
# plan-time checks, both target types, both flow affinities). No AWS call.
module_dir="$work/tf/modules/mirrortap"
mkdir -p "$module_dir/tests/mocks"
cp "$MIRRORTAP_SOURCE_DIR"/tests/deploy/terraform/*.tftest.hcl "$module_dir/tests/"
cp "$MIRRORTAP_SOURCE_DIR"/tests/deploy/terraform/*.tfmock.hcl "$module_dir/tests/mocks/"
if terraform -chdir="$module_dir" test -no-color >"$work/test.log" 2>&1; then
    grep -E '^\s+run ' "$work/test.log"
    ok "terraform test (mock provider; real provider plans): $(grep -E '^Success!' "$work/test.log")"
else
    grep -v '^  - ' "$work/test.log" | tail -60
    fail "terraform test (mock provider; real provider plans)"
fi

# Each example as its terraform.tfvars.example has it (two zones for the
# GWLB), applied against the same mock provider.
for example in basic gwlb; do
    test_file="$MIRRORTAP_SOURCE_DIR/tests/deploy/terraform/examples/$example.tftest.hcl"
    [ -f "$test_file" ] || continue
    dir="$work/tf/examples/$example"
    mkdir -p "$dir/tests/mocks"
    cp "$test_file" "$dir/tests/"
    cp "$MIRRORTAP_SOURCE_DIR"/tests/deploy/terraform/*.tfmock.hcl "$dir/tests/mocks/"
    # The values an operator starts from: terraform test reads terraform.tfvars.
    cp "$dir/terraform.tfvars.example" "$dir/terraform.tfvars"
    if terraform -chdir="$dir" test -no-color >"$work/test-$example.log" 2>&1; then
        ok "terraform test examples/$example (mock provider): $(grep -E '^Success!' "$work/test-$example.log")"
    else
        grep -v '^  - ' "$work/test-$example.log" | tail -40
        fail "terraform test examples/$example (mock provider)"
    fi
done

# The module's input validations, exercised: its variables.tf alone is a root
# with no resources, so `terraform plan` evaluates them without any provider.
vars="$work/vars"
mkdir -p "$vars"
cp "$work/tf/modules/mirrortap/variables.tf" "$vars/"
if terraform -chdir="$vars" init -backend=false -input=false -no-color >"$work/vars-init.log" 2>&1; then
    base=(-var vpc_id=vpc-1 -var 'subnet_ids=["subnet-1"]' -var 'source_cidrs=["10.0.0.0/16"]'
          -var package_url=https://example.invalid/m.deb -var "package_sha256=$(printf '%064d' 0)" -var ami_id=ami-0123456789abcdef0)
    check "module inputs: a minimal valid set plans" \
        terraform -chdir="$vars" plan -input=false -no-color "${base[@]}" -out=/dev/null
    # refused VALUE EXPECTED_MESSAGE
    refused() {
        local out
        out=$(terraform -chdir="$vars" plan -input=false -no-color "${base[@]}" -var "$1" 2>&1)
        if [ $? -ne 0 ] && grep -qF "$2" <<<"$out"; then ok "module inputs refuse: $2"; else
            echo "$out" | tail -8; fail "module inputs refuse: $2"; fi
    }
    refused 'mirror_sessions=[{network_interface_id="eni-1",vni=1,name="a"},{network_interface_id="eni-2",vni=1,name="b"}]' \
        "entries that share a VNI must share a name"
    refused 'mirror_sessions=[{network_interface_id="eni-1",vni=1,name="../x"}]' "mirror_sessions: vni 0..16777215"
    refused 'mirror_sessions=[{network_interface_id="eni-1",vni=1,name="a",packet_length=9000}]' "mirror_sessions: vni 0..16777215"
    refused 'mirror_sessions=[{network_interface_id="eni-1",vni=1,name="a",session_number=1},{network_interface_id="eni-1",vni=2,name="b",session_number=2},{network_interface_id="eni-1",vni=3,name="c",session_number=3},{network_interface_id="eni-1",vni=4,name="d",session_number=4}]' \
        "at most 3 sessions per source ENI"
    refused 'mirror_selectors=[{name="web",select=["tag:tier=web"],vni=1}]' "mirror_selectors: name of letters"
    refused 'mirror_selectors=[{name="web",select=[],vni=1}]' "mirror_selectors: name of letters"
    refused 'mirror_selectors=[{name="web",select=["Name=tag:tier,Values=web"],vni=16777216}]' "mirror_selectors: name of letters"
    refused 'mirror_selectors=[{name="web",select=["Name=tag:a,Values=1"],vni=1},{name="web",select=["Name=tag:b,Values=2"],vni=2}]' \
        "mirror_selectors: each selector needs a name of its own"
    refused 'filter_rules=[{direction="ingress",rule_number=1,action="accept"},{direction="ingress",rule_number=1,action="reject"}]' \
        "rule_number must be unique within a direction"
    refused 'filter_rules=[{direction="inbound",rule_number=1,action="accept"}]' "direction ingress|egress"
    refused "package_url=https://example.invalid/a'b" "without quotes or spaces"
    refused 'flow_affinity=source_port' "flow_affinity: none or source_ip"
    refused 'flow_affinity=' "flow_affinity: none or source_ip"
    refused 'target_type=alb' "target_type: nlb or gwlb"
    refused 'capture_prefix=/captures/' "capture_prefix: one or more path segments"
    refused 'capture_bucket_name=Not_A_Bucket' "capture_bucket_name: an S3 bucket name"
    refused 'capture_object_lock_mode=governance' "capture_object_lock_mode: GOVERNANCE or COMPLIANCE"
    refused 'capture_object_lock_days=0' "capture_object_lock_days: whole days, 1..36500"
    refused 'capture_object_lock_days=1.5' "capture_object_lock_days: whole days, 1..36500"
    refused 'capture_noncurrent_version_days=-1' "capture_noncurrent_version_days: whole days"
    refused 'capture_kms_key_arn=arn:aws:kms:eu-west-1:123456789012:alias/captures' "capture_kms_key_arn: arn:PARTITION:kms:REGION:ACCOUNT:key/ID"
    refused 'capture_access_log_bucket=Logs' "capture_access_log_bucket: an S3 bucket name"
    refused 'drain_seconds=7200' "drain_seconds: 10..6600"
    refused 'package_sha256=abc' "package_sha256: 64 lowercase hex digits"
    refused 'ami_ssm_parameter=/aws/service/debian/release/bookworm/latest/amd64' "ami_ssm_parameter: a parameter path pinned to one image"
    refused 'cloudwatch_namespace=AWS/EC2' "cloudwatch_namespace: 1..255"
    refused 'allowed_vnis=["501","x"]' "allowed_vnis: VNIs or ranges"
    refused 'refresh_max_healthy_percentage=250' "refresh_max_healthy_percentage: 100..200"
    refused 'pcap_min_free_bytes=2GB' "pcap_min_free_bytes: a number of bytes"
else
    cat "$work/vars-init.log"
    fail "terraform init of the variables-only root"
fi

# check_rendered_config COLLECTOR FILE NAME: mirrortap-collector --check-config
# accepts the rendered config. Keys the module renders for collector features
# still being built elsewhere (upload, lifecycle, pcap.retain_total_bytes) are
# the only refusals tolerated, and only while this collector reports them as
# unknown keys: the config is then checked again without them, and the
# moment the collector knows them the whole file must pass.
ahead_of_collector='upload|lifecycle|retain_total_bytes'
check_rendered_config() {
    local collector=$1 file=$2 name=$3 out unknown
    if out=$("$collector" --config "$file" --check-config 2>&1); then
        ok "mirrortap-collector --check-config accepts the rendered $name"
        return
    fi
    unknown=$(grep -oE "unknown key '[a-z_]+'" <<<"$out" | grep -oE "'[a-z_]+'" | tr -d "'" | sort -u)
    if [ -z "$unknown" ] || grep -qvxE "$ahead_of_collector" <<<"$unknown" ||
        grep -vE "unknown key '($ahead_of_collector)'" <<<"$out" | grep -q .; then
        echo "$out"
        fail "mirrortap-collector --check-config accepts the rendered $name"
        return
    fi
    echo "note: this collector does not know $(echo $unknown) yet; $name checked without them"
    python3 - "$file" "$file.known" $unknown <<'PY'
import sys, yaml
src, dst, drop = sys.argv[1], sys.argv[2], set(sys.argv[3:])
doc = yaml.safe_load(open(src))
for key in list(doc):
    if key in drop:
        del doc[key]
    elif isinstance(doc[key], dict):
        for sub in drop & set(doc[key]):
            del doc[key][sub]
yaml.safe_dump(doc, open(dst, "w"), sort_keys=False)
PY
    if out=$("$collector" --config "$file.known" --check-config 2>&1); then
        ok "mirrortap-collector --check-config accepts the rendered $name (less $(echo $unknown))"
    else
        echo "$out"
        fail "mirrortap-collector --check-config accepts the rendered $name (less $(echo $unknown))"
    fi
}

# Render the templates exactly as the module does, with sample values, by
# applying a root that has only outputs (no provider, no state anywhere else).
render="$work/render"
mkdir -p "$render"
tpl="$work/tf/modules/mirrortap/templates"
cat >"$render/main.tf" <<TF
locals {
  base = {
    vxlan_port         = 4789
    geneve_port        = 0
    metrics_port       = 9478
    rotate_size        = "1G"
    retain_bytes       = "20G"
    retain_total_bytes = "420G"
    min_free_bytes     = "2G"
    allowed_sources    = ["10.0.0.0/16", "192.168.7.0/24"]
    sessions           = [{ vni = 501, name = "web" }, { vni = 7, name = "db.primary" }]
    allowed_vnis       = ["501", "7"]
    vnis_named         = true
    upload             = null
    lifecycle          = null
    cloudwatch         = null
  }
  upload = {
    url = "s3://captures-bucket/mirrortap", region = "eu-west-1", storage_class = "STANDARD_IA",
    delete_after_upload = true, drain_seconds = 300
  }
  lifecycle  = { hook_name = "mirrortap-drain", group_name = "mirrortap-collectors", region = "eu-west-1", poll_seconds = 5, drain_seconds = 300 }
  cloudwatch = { namespace = "Mirrortap", region = "eu-west-1", fleet = "mirrortap" }
  sessions   = { region = "eu-west-1", selectors_parameter = "/mirrortap/mirrortap-sessions/selectors", metrics_port = 9479,
                 cloudwatch_namespace = "Mirrortap", cloudwatch_fleet = "mirrortap" }
}
output "collector_yaml" {
  value = templatefile("$tpl/collector.yaml.tftpl", local.base)
}
output "collector_yaml_no_sessions" {
  value = templatefile("$tpl/collector.yaml.tftpl", merge(local.base, {
    retain_bytes = "0", min_free_bytes = "0", allowed_sources = ["10.0.0.0/8"], sessions = [], allowed_vnis = []
  }))
}
output "collector_yaml_fleet" {
  value = templatefile("$tpl/collector.yaml.tftpl", merge(local.base, {
    geneve_port = 6081, upload = local.upload, lifecycle = local.lifecycle, cloudwatch = local.cloudwatch
  }))
}
output "user_data_url" {
  value = templatefile("$tpl/user_data.sh.tftpl", {
    package_url = "https://example.invalid/m.deb", package_s3_uri = "",
    enable_tap = true, enable_ssm = true, region = "eu-west-1", deb_arch = "amd64", stop_timeout_seconds = 330,
    package_sha256 = "$(printf '%064d' 1)", journal = { url = "s3://captures-bucket/mirrortap/journal", minutes = 5 },
    collector_config = "listen: 0.0.0.0:4789\n",
    sessions_config = templatefile("$tpl/sessions.yaml.tftpl", local.sessions),
    find_serve = true, find_serve_listen = "0.0.0.0:8480",
    find_serve_tokens = "grafana $(printf '%064d' 2)\n"
  })
}
output "user_data_s3" {
  value = templatefile("$tpl/user_data.sh.tftpl", {
    package_url = "", package_s3_uri = "s3://bucket/m.deb", package_sha256 = "$(printf '%064d' 0)",
    enable_tap = false, enable_ssm = false, region = "eu-west-1", deb_arch = "arm64", stop_timeout_seconds = 0, journal = null,
    collector_config = "listen: 0.0.0.0:4789\n", sessions_config = "",
    find_serve = false, find_serve_listen = "", find_serve_tokens = ""
  })
}
output "sessions_yaml" {
  value = templatefile("$tpl/sessions.yaml.tftpl", local.sessions)
}
TF
renders="collector_yaml collector_yaml_no_sessions collector_yaml_fleet user_data_url user_data_s3 sessions_yaml"
if terraform -chdir="$render" init -backend=false -input=false -no-color >"$work/render-init.log" 2>&1 &&
    terraform -chdir="$render" apply -auto-approve -input=false -no-color >"$work/render.log" 2>&1; then
    for out in $renders; do
        terraform -chdir="$render" output -raw "$out" >"$render/$out.txt"
    done
    check "user data (package_url, TAP, SSM) is valid bash" bash -n "$render/user_data_url.txt"
    check "user data (package_s3_uri, sha256) is valid bash" bash -n "$render/user_data_s3.txt"
    check "user data installs the TAP drop-in only when asked" \
        bash -c "grep -q collector-tap.conf '$render/user_data_url.txt' && ! grep -q collector-tap.conf '$render/user_data_s3.txt'"
    check "user data installs the SSM agent for Debian only when asked, after the collector" \
        bash -c "grep -q 'amazon-ssm-eu-west-1/latest/debian_amd64/amazon-ssm-agent.deb' '$render/user_data_url.txt' &&
                 ! grep -q amazon-ssm '$render/user_data_s3.txt' &&
                 [ \$(grep -n 'enable --now mirrortap-collector' '$render/user_data_url.txt' | cut -d: -f1) -lt \$(grep -n 'dpkg -i \"\$ssm_deb\"' '$render/user_data_url.txt' | cut -d: -f1) ]"
    check "user data gives the unit a stop timeout for the upload drain only with uploads" \
        bash -c "grep -qF \"'330'\" '$render/user_data_url.txt' && grep -q TimeoutStopSec '$render/user_data_url.txt' &&
                 ! grep -q TimeoutStopSec '$render/user_data_s3.txt'"
    check "user data always verifies the sha256" \
        bash -c "grep -q 'sha256sum --check' '$render/user_data_s3.txt' && grep -q 'sha256sum --check' '$render/user_data_url.txt'"
    check "user data ships the journal only when asked, with the packaged units" \
        bash -c "grep -q 'enable --now mirrortap-journal-ship.timer' '$render/user_data_url.txt' &&
                 grep -q 'MIRRORTAP_JOURNAL_URL=.*s3://captures-bucket/mirrortap/journal' '$render/user_data_url.txt' &&
                 ! grep -q journal '$render/user_data_s3.txt'"
    check "user data writes sessions.yaml and enables mirrortap-sessions only with selectors, after the collector" \
        bash -c "grep -qx 'selectors_parameter: /mirrortap/mirrortap-sessions/selectors' '$render/user_data_url.txt' &&
                 grep -q 'enable --now mirrortap-sessions.service' '$render/user_data_url.txt' &&
                 ! grep -q mirrortap-sessions '$render/user_data_s3.txt' &&
                 [ \$(grep -n 'enable --now mirrortap-collector' '$render/user_data_url.txt' | cut -d: -f1) -lt \$(grep -n 'enable --now mirrortap-sessions' '$render/user_data_url.txt' | cut -d: -f1) ]"
    check "user data enables mirrortap-find --serve only when asked, with its tokens file, after the collector" \
        bash -c "grep -qx 'grafana $(printf '%064d' 2)' '$render/user_data_url.txt' &&
                 grep -q 'enable --now mirrortap-find-serve.service' '$render/user_data_url.txt' &&
                 ! grep -q mirrortap-find '$render/user_data_s3.txt' &&
                 [ \$(grep -n 'enable --now mirrortap-collector' '$render/user_data_url.txt' | cut -d: -f1) -lt \$(grep -n 'enable --now mirrortap-find-serve' '$render/user_data_url.txt' | cut -d: -f1) ]"
    sessions="$MIRRORTAP_BUILD_DIR/bin/mirrortap-sessions"
    if [ "${HAVE_SESSIONS:-0}" = 1 ] && [ -x "$sessions" ]; then
        check "mirrortap-sessions --check-config accepts the rendered sessions.yaml" \
            "$sessions" --config "$render/sessions_yaml.txt" --check-config
    else
        echo "note: mirrortap-sessions not built; rendered sessions.yaml not checked by it"
    fi
    check "rendered config names the sessions" \
        bash -c "grep -q 'name: web' '$render/collector_yaml.txt' && grep -q 'vni: 7' '$render/collector_yaml.txt'"
    check "rendered config accepts only the sessions' VNIs" \
        grep -qx 'allowed_vnis: \[501, 7\]' "$render/collector_yaml.txt"
    check "rendered config without sessions accepts every VNI" \
        grep -qx 'allowed_vnis: \[\]' "$render/collector_yaml_no_sessions.txt"
    check "rendered config has the total retention budget" \
        grep -qx '  retain_total_bytes: 420G' "$render/collector_yaml.txt"
    check "rendered config has upload, lifecycle and cloudwatch sections only with upload, both drains the one figure" \
        bash -c "grep -qx 'upload:' '$render/collector_yaml_fleet.txt' && [ \$(grep -cx '  drain_seconds: 300' '$render/collector_yaml_fleet.txt') = 2 ] &&
                 grep -qx '  namespace: Mirrortap' '$render/collector_yaml_fleet.txt' &&
                 grep -qx '  hook_name: mirrortap-drain' '$render/collector_yaml_fleet.txt' && grep -qx 'listen_geneve: 0.0.0.0:6081' '$render/collector_yaml_fleet.txt' &&
                 ! grep -q 'upload:\|lifecycle:\|listen_geneve' '$render/collector_yaml.txt'"
    check "rendered configs are YAML" python3 -c '
import sys, yaml
for f in sys.argv[1:]:
    doc = yaml.safe_load(open(f))
    assert isinstance(doc, dict), f
' "$render"/collector_yaml*.txt
    collector="$MIRRORTAP_BUILD_DIR/bin/mirrortap-collector"
    if [ "$HAVE_COLLECTOR" = 1 ] && [ -x "$collector" ]; then
        for out in collector_yaml collector_yaml_no_sessions collector_yaml_fleet; do
            check_rendered_config "$collector" "$render/$out.txt" "$out"
        done
    else
        echo "note: mirrortap-collector not built; rendered config not checked by it"
    fi
else
    cat "$work/render-init.log" "$work/render.log"
    fail "rendering the templates with terraform"
fi

finish

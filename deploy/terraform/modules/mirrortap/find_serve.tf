# mirrortap-find --serve on every collector (issue 22): the packets of that
# collector's captures for analysts without a shell, over the API and the page,
# reached only from find_serve_cidrs through the collectors' security group.
# Clients authenticate with bearer tokens; only their SHA-256 is in Terraform's
# state and on the instances (deploy/README.md, "Packets for analysts").

variable "find_serve" {
  description = "Run mirrortap-find --serve on every collector (API and page on find_serve_port), open to find_serve_cidrs. Needs find_serve_tokens."
  type        = bool
  default     = false
}

variable "find_serve_port" {
  description = "TCP port of mirrortap-find --serve on the collectors (the dashboard's packets_url points there)."
  type        = number
  default     = 8480

  validation {
    condition     = var.find_serve_port >= 1 && var.find_serve_port <= 65535
    error_message = "find_serve_port: 1..65535."
  }
}

variable "find_serve_cidrs" {
  description = "CIDRs of the analysts (or the proxy in front of them) allowed to reach find_serve_port. Nothing else reaches it."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.find_serve_cidrs : can(cidrhost(c, 0))])
    error_message = "find_serve_cidrs: IPv4 or IPv6 CIDRs."
  }
}

variable "find_serve_tokens" {
  description = "Clients of mirrortap-find --serve: NAME => SHA-256 (hex) of the client's token (`printf %s TOKEN | sha256sum`). The tokens themselves never reach Terraform."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for name, hash in var.find_serve_tokens : can(regex("^[0-9a-f]{64}$", hash)) && can(regex("^[A-Za-z0-9._@-]{1,64}$", name))])
    error_message = "find_serve_tokens: NAME (letters, digits, . _ @ -; at most 64) => 64 lowercase hex digits, the SHA-256 of the token."
  }
}

locals {
  # The file mirrortap-find reads: one `NAME SHA256-HEX` line a client.
  find_serve_tokens_file = join("", [for name in sort(keys(var.find_serve_tokens)) : "${name} ${var.find_serve_tokens[name]}\n"])
}

resource "aws_vpc_security_group_ingress_rule" "find_serve_from_analysts" {
  for_each = var.find_serve ? toset(var.find_serve_cidrs) : toset([])

  security_group_id = aws_security_group.collector.id
  description       = "Analysts: mirrortap-find --serve (API and page)"
  ip_protocol       = "tcp"
  from_port         = var.find_serve_port
  to_port           = var.find_serve_port
  cidr_ipv4         = strcontains(each.value, ":") ? null : each.value
  cidr_ipv6         = strcontains(each.value, ":") ? each.value : null
}

# Refused at plan rather than a server that starts for nobody (no token) or
# for no one who can reach it (no CIDR).
resource "terraform_data" "find_serve_checks" {
  count = var.find_serve ? 1 : 0

  lifecycle {
    precondition {
      condition     = length(var.find_serve_tokens) > 0
      error_message = "find_serve needs find_serve_tokens: mirrortap-find --serve answers no one without a token."
    }
    precondition {
      condition     = length(var.find_serve_cidrs) > 0
      error_message = "find_serve needs find_serve_cidrs: who may reach the API and the page."
    }
    precondition {
      condition     = var.find_serve_port != var.metrics_port && var.find_serve_port != var.sessions_metrics_port
      error_message = "find_serve_port must differ from metrics_port and sessions_metrics_port."
    }
  }
}

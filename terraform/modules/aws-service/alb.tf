resource "aws_lb" "this" {
  # checkov:skip=CKV2_AWS_28:The ALB is internal by default; attach a WAF web ACL (aws_wafv2_web_acl_association) in the calling configuration when load_balancer_internal = false.
  # checkov:skip=CKV_AWS_91:Access logging is enabled through alb_access_logs_bucket; the bucket is operator-owned (its policy must admit the regional ELB account).
  name                       = var.name
  internal                   = var.load_balancer_internal
  load_balancer_type         = "application"
  subnets                    = var.load_balancer_subnet_ids
  security_groups            = [aws_security_group.alb.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = true

  dynamic "access_logs" {
    for_each = var.alb_access_logs_bucket == null ? [] : [var.alb_access_logs_bucket]
    content {
      bucket  = access_logs.value
      prefix  = var.name
      enabled = true
    }
  }

  tags = local.tags
}

resource "aws_lb_target_group" "this" {
  # checkov:skip=CKV_AWS_378:TLS terminates at the ALB; ALB-to-task traffic stays inside the VPC between two security groups.
  name                 = var.name
  port                 = local.container_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = "/api/ready" # DB reachable, schema at head, key ring loaded
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  tags = local.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  tags = local.tags
}

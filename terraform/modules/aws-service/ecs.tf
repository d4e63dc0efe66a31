resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }

  tags = local.tags
}

# The load balancer's subnets: the only peers whose X-Forwarded-For CUDly believes
# (CUDLY_TRUSTED_PROXIES, docs/security.md); a client cannot spoof its address past the ALB.
data "aws_subnet" "load_balancer" {
  for_each = toset(var.load_balancer_subnet_ids)
  id       = each.value
}

locals {
  # One process per vCPU unless told otherwise: the sweep work per account is CPU-bound.
  workers = var.workers != null ? var.workers : max(1, floor(var.task_cpu / 1024))

  environment = merge(
    var.extra_environment,
    {
      CUDLY_ENV                            = "production"
      CUDLY_HOST                           = "0.0.0.0"
      CUDLY_PORT                           = tostring(local.container_port)
      CUDLY_LOG_FORMAT                     = "json"
      CUDLY_RUN_MIGRATIONS                 = tostring(var.run_migrations_on_start)
      CUDLY_MAX_ACCOUNT_PARALLELISM        = tostring(var.max_account_parallelism)
      CUDLY_WORKERS                        = tostring(local.workers)
      CUDLY_PURCHASES_ENABLED              = tostring(var.purchases_enabled)
      CUDLY_AWS_REGION                     = local.region
      CUDLY_TRUSTED_PROXIES                = join(",", sort([for subnet in data.aws_subnet.load_balancer : subnet.cidr_block]))
      CREDENTIAL_ENCRYPTION_KEY_SECRET_ARN = aws_secretsmanager_secret.encryption_key.arn
    },
  )

  secrets = concat(
    [{ name = "DATABASE_URL", valueFrom = aws_secretsmanager_secret.database_url.arn }],
    [for secret in aws_secretsmanager_secret.decrypt_only_keys : { name = "CUDLY_CREDENTIAL_DECRYPT_ONLY_KEYS", valueFrom = secret.arn }],
  )
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # Writable scratch space; the root filesystem is read-only.
  volume {
    name = "tmp"
  }
  volume {
    name = "data"
  }

  container_definitions = jsonencode([
    {
      name                   = local.container_name
      image                  = var.image
      essential              = true
      user                   = "10001:10001"
      readonlyRootFilesystem = true
      privileged             = false
      portMappings           = [{ containerPort = local.container_port, protocol = "tcp" }]
      environment            = [for name in sort(keys(local.environment)) : { name = name, value = local.environment[name] }]
      secrets                = local.secrets
      mountPoints = [
        { sourceVolume = "tmp", containerPath = "/tmp", readOnly = false },
        { sourceVolume = "data", containerPath = "/var/lib/cudly", readOnly = false },
      ]
      healthCheck = {
        command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${local.container_port}/api/ready', timeout=4)"]
        interval    = 30
        timeout     = 5
        retries     = 3
        startPeriod = 60
      }
      stopTimeout = 30
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.this.name
          awslogs-region        = local.region
          awslogs-stream-prefix = "cudly"
        }
      }
    }
  ])

  tags = local.tags
}

resource "aws_ecs_service" "this" {
  name             = var.name
  cluster          = aws_ecs_cluster.this.id
  task_definition  = aws_ecs_task_definition.this.arn
  desired_count    = var.desired_count
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  propagate_tags   = "SERVICE"

  enable_execute_command             = false
  health_check_grace_period_seconds  = 120
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = local.container_name
    container_port   = local.container_port
  }

  # Secrets are read when a task starts: roll the tasks whenever one of them changes.
  force_new_deployment = true
  triggers = {
    encryption_key    = aws_secretsmanager_secret_version.encryption_key.version_id
    decrypt_only_keys = join(",", aws_secretsmanager_secret_version.decrypt_only_keys[*].version_id)
    database_url      = tostring(var.db_password_version)
  }

  depends_on = [aws_lb_listener.https, aws_iam_role_policy.task, aws_iam_role_policy.execution]
  tags       = local.tags
}

{{/*
Names, labels and the pieces every workload shares. Components are "api", "assembler",
"transcriber", "migrate" and "test"; each gets an app.kubernetes.io/component label that the
Services, PodMonitor, PDBs and dashboards select on.
*/}}

{{- define "recordplus.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "recordplus.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<component>", e.g. recordplus-api. Call with (dict "ctx" $ "component" "api"). */}}
{{- define "recordplus.componentName" -}}
{{- printf "%s-%s" (include "recordplus.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "recordplus.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "recordplus.selectorLabels" -}}
app.kubernetes.io/name: {{ include "recordplus.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "recordplus.labels" -}}
helm.sh/chart: {{ include "recordplus.chart" . }}
{{ include "recordplus.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: recordplus
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Call with (dict "ctx" $ "component" "api"). */}}
{{- define "recordplus.componentSelectorLabels" -}}
{{ include "recordplus.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "recordplus.componentLabels" -}}
{{ include "recordplus.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "recordplus.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "recordplus.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "recordplus.configMapName" -}}
{{- include "recordplus.componentName" (dict "ctx" . "component" "config") -}}
{{- end -}}

{{- define "recordplus.secretName" -}}
{{- if .Values.existingSecret -}}
{{- .Values.existingSecret -}}
{{- else -}}
{{- include "recordplus.componentName" (dict "ctx" . "component" "secrets") -}}
{{- end -}}
{{- end -}}

{{/* The image reference of a component. Call with (dict "ctx" $ "image" .Values.api.image). */}}
{{- define "recordplus.image" -}}
{{- $registry := .ctx.Values.image.registry -}}
{{- $tag := default .ctx.Values.image.tag .image.tag | default .ctx.Chart.AppVersion -}}
{{- if .image.digest -}}
{{- printf "%s%s@%s" (ternary "" (printf "%s/" $registry) (empty $registry)) .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s%s:%s" (ternary "" (printf "%s/" $registry) (empty $registry)) .image.repository (toString $tag) -}}
{{- end -}}
{{- end -}}

{{/*
Pod annotations that roll the pods when their configuration changes: the rendered ConfigMap
and Secret are hashed, so `helm upgrade` with a new setting restarts every workload.
*/}}
{{- define "recordplus.checksumAnnotations" -}}
checksum/config: {{ include (print $.Template.BasePath "/configmap-config.yaml") . | sha256sum }}
checksum/secret: {{ include (print $.Template.BasePath "/secret-secrets.yaml") . | sha256sum }}
{{- end -}}

{{/* Settings every container gets: the ConfigMap, the Secret, then per-component extras. */}}
{{- define "recordplus.envFrom" -}}
- configMapRef:
    name: {{ include "recordplus.configMapName" . }}
- secretRef:
    name: {{ include "recordplus.secretName" . }}
{{- end -}}

{{/* Shared pod-level fields. Call with (dict "ctx" $ "component" .Values.api). */}}
{{- define "recordplus.podSpecCommon" -}}
{{- $ctx := .ctx -}}
serviceAccountName: {{ include "recordplus.serviceAccountName" $ctx }}
automountServiceAccountToken: false
{{- with $ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml (mergeOverwrite (deepCopy $ctx.Values.podSecurityContext) (default dict .component.podSecurityContext)) | nindent 2 }}
{{- with (default $ctx.Values.nodeSelector .component.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $ctx.Values.tolerations .component.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $ctx.Values.affinity .component.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .component.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (default $ctx.Values.priorityClassName .component.priorityClassName) }}
priorityClassName: {{ . }}
{{- end }}
{{- end -}}

{{/* The container securityContext: non-root, read-only root, no capabilities. */}}
{{- define "recordplus.containerSecurityContext" -}}
{{- toYaml (mergeOverwrite (deepCopy .ctx.Values.containerSecurityContext) (default dict .component.containerSecurityContext)) -}}
{{- end -}}

{{/* Writable scratch space: the root filesystem is read-only. */}}
{{- define "recordplus.tmpVolume" -}}
- name: tmp
  emptyDir:
    {{- with .sizeLimit }}
    sizeLimit: {{ . }}
    {{- else }}
    {}
    {{- end }}
{{- end -}}

{{/*
Whether an optional custom resource is rendered: "true" or "" (empty is false). `enabled` is
true, false or "auto"; auto renders it only when the cluster serves `api` (a group/version).
`helm install` and `helm upgrade` ask the cluster; `helm template` and `helm lint` know only
the built-in APIs unless given `--api-versions <group/version>`.
Call with (dict "ctx" $ "enabled" .Values.keda.enabled "api" "keda.sh/v1alpha1").
*/}}
{{- define "recordplus.crdEnabled" -}}
{{- if eq (toString .enabled) "auto" -}}
{{- if .ctx.Capabilities.APIVersions.Has .api -}}true{{- end -}}
{{- else if .enabled -}}
true
{{- end -}}
{{- end -}}

{{/* KEDA ScaledObjects for the workers (keda.enabled: true, false or auto). */}}
{{- define "recordplus.kedaEnabled" -}}
{{- include "recordplus.crdEnabled" (dict "ctx" . "enabled" .Values.keda.enabled "api" "keda.sh/v1alpha1") -}}
{{- end -}}

{{/* PromQL label matchers that pin a query to this release's series. */}}
{{- define "recordplus.promSelector" -}}
namespace="{{ .Release.Namespace }}"
{{- end -}}

{{/*
KEDA's trigger query for a worker queue: jobs waiting AND running, from the database-backed
gauge. Counting running jobs keeps a worker that is busy with the last job alive (KEDA's
RabbitMQ trigger sees only ready messages and would scale it to zero mid-job). Every API pod
reports the same database value, so take the max over pods rather than the sum.
*/}}
{{- define "recordplus.backlogQuery" -}}
max(sum without (state) (recordplus_queue_backlog_jobs{queue="{{ .queue }}", {{ include "recordplus.promSelector" .ctx }}})) or vector(0)
{{- end -}}

{{/* Non-secret settings as NAME: "value" lines: the ConfigMap's data, and the migration Job's env. */}}
{{- define "recordplus.configData" -}}
RECORDPLUS_MODE: "cluster"
RECORDPLUS_BIND_HOST: "0.0.0.0"
RECORDPLUS_DATA_DIR: "/tmp/recordplus"
LOG_LEVEL: {{ .Values.config.logLevel | quote }}
DEBUG: {{ .Values.config.debug | quote }}
ALLOWED_HOSTS: {{ join "," .Values.config.allowedHosts | quote }}
ALLOW_ANONYMOUS: {{ .Values.config.allowAnonymous | quote }}
CORS_ALLOWED_ORIGINS: {{ join "," .Values.config.corsAllowedOrigins | quote }}
CORS_ALLOWED_ORIGIN_REGEXES: {{ join "," .Values.config.corsAllowedOriginRegexes | quote }}
STREAM_MODE: {{ .Values.config.streamMode | quote }}
MAX_CHUNK_BYTES: {{ .Values.config.maxChunkBytes | int64 | quote }}
MAX_CHUNKS: {{ .Values.config.maxChunks | int64 | quote }}
FINALIZE_SETTLE_SECONDS: {{ .Values.config.finalizeSettleSeconds | quote }}
RECONCILE_STALE_SECONDS: {{ .Values.config.reconcileStaleSeconds | int64 | quote }}
ASSEMBLE_MAX_ATTEMPTS: {{ .Values.config.assembleMaxAttempts | int64 | quote }}
PUBLIC_URL: {{ .Values.config.publicUrl | quote }}
WORKER_METRICS_PORT: {{ .Values.config.workerMetricsPort | int64 | quote }}
METRICS_PORT: {{ .Values.api.metricsPort | int64 | quote }}
UPLOAD_EXPIRY_SECONDS: {{ .Values.config.uploadExpirySeconds | int64 | quote }}
QUOTA_OPEN_VIDEOS: {{ .Values.config.quotaOpenVideos | int64 | quote }}
QUOTA_BYTES: {{ .Values.config.quotaBytes | int64 | quote }}
RATE_LIMIT_REQUESTS_PER_MINUTE: {{ .Values.config.rateLimitRequestsPerMinute | int64 | quote }}
MAX_CONCURRENT_JOBS_PER_USER: {{ .Values.config.maxConcurrentJobsPerUser | int64 | quote }}
ASSEMBLE_LEASE_SECONDS: {{ .Values.config.assembleLeaseSeconds | int64 | quote }}
HTTP_HEADER_TIMEOUT_SECONDS: {{ .Values.config.httpHeaderTimeoutSeconds | toString | quote }}
HTTP_BODY_TIMEOUT_SECONDS: {{ .Values.config.httpBodyTimeoutSeconds | toString | quote }}
MEDIA_URL_TTL_SECONDS: {{ .Values.config.mediaUrlTtlSeconds | int64 | quote }}
SESSION_COOKIE_AGE: {{ .Values.config.sessionCookieAge | int64 | quote }}
SESSION_COOKIE_SECURE: {{ .Values.config.sessionCookieSecure | toString | quote }}
CSRF_TRUSTED_ORIGINS: {{ join "," .Values.config.csrfTrustedOrigins | quote }}
FORWARDED_ALLOW_IPS: {{ .Values.config.forwardedAllowIps | quote }}
HOT_PATHS: {{ .Values.config.hotPaths | toString | quote }}
HOT_PATH_THREADS: {{ .Values.config.hotPathThreads | int64 | quote }}
LIVE_TRANSCRIPTION: {{ .Values.config.liveTranscription | toString | quote }}
LIVE_WINDOW_MIN_SECONDS: {{ .Values.config.liveWindowMinSeconds | toString | quote }}
LIVE_WINDOW_MAX_SECONDS: {{ .Values.config.liveWindowMaxSeconds | toString | quote }}
LIVE_PAUSE_SECONDS: {{ .Values.config.livePauseSeconds | toString | quote }}
LIVE_DECODE_INTERVAL_SECONDS: {{ .Values.config.liveDecodeIntervalSeconds | toString | quote }}
LIVE_LEASE_SECONDS: {{ .Values.config.liveLeaseSeconds | int64 | quote }}
LIVE_MAX_ATTEMPTS: {{ .Values.config.liveMaxAttempts | int64 | quote }}
LIVE_BATCH_WINDOWS: {{ .Values.config.liveBatchWindows | int64 | quote }}
LIVE_PROVISIONAL_SECONDS: {{ .Values.config.liveProvisionalSeconds | toString | quote }}
LIVE_KEEPALIVE_SECONDS: {{ .Values.config.liveKeepaliveSeconds | toString | quote }}
DATABASE_CONN_MAX_AGE: {{ .Values.database.connMaxAge | int64 | quote }}
STORAGE_BACKEND: "s3"
S3_BUCKET: {{ .Values.s3.bucket | quote }}
S3_ENDPOINT_URL: {{ .Values.s3.endpointUrl | quote }}
S3_PUBLIC_ENDPOINT_URL: {{ .Values.s3.publicEndpointUrl | quote }}
S3_REGION: {{ .Values.s3.region | quote }}
S3_ADDRESSING_STYLE: {{ .Values.s3.addressingStyle | quote }}
S3_PRESIGN_SECONDS: {{ .Values.s3.presignSeconds | int64 | quote }}
S3_CREATE_BUCKET: {{ .Values.s3.createBucket | quote }}
{{- range $name, $value := .Values.config.extraEnv }}
{{ $name }}: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* Secret settings as NAME: "value" lines (the Secret's stringData and the migration hook's). */}}
{{- define "recordplus.secretData" -}}
{{- $secretKey := .secretKey -}}
{{- $values := .ctx.Values -}}
SECRET_KEY: {{ $secretKey | quote }}
DATABASE_URL: {{ required "database.url is required (or set existingSecret)" $values.database.url | quote }}
BROKER_URL: {{ required "broker.url is required (or set existingSecret)" $values.broker.url | quote }}
S3_ACCESS_KEY_ID: {{ $values.s3.accessKeyId | quote }}
S3_SECRET_ACCESS_KEY: {{ $values.s3.secretAccessKey | quote }}
{{- end -}}

{{/*
Copies the pod's component label to a `component` label on every scraped series; the
dashboards and alerts select on it (k8s/prometheus does the same for the dev cluster).
*/}}
{{- define "recordplus.componentRelabeling" -}}
- sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_component]
  targetLabel: component
- sourceLabels: [__meta_kubernetes_pod_name]
  targetLabel: pod
{{- end -}}

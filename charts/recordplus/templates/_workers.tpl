{{/*
The two Dramatiq workers (assembler, transcriber) share one shape: a Deployment running
`recordplus worker --queues <queue>`, metrics on WORKER_METRICS_PORT, a KEDA ScaledObject on
that queue's backlog and a PodDisruptionBudget. Call each with
(dict "ctx" $ "component" "assembler" "queue" "assemble" "values" .Values.assembler "gpu" <dict or nil>).
*/}}

{{- define "recordplus.workerDeployment" -}}
{{- $ctx := .ctx -}}
{{- $values := .values -}}
{{- $gpu := .gpu -}}
{{- $port := $ctx.Values.config.workerMetricsPort | int -}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "recordplus.componentName" (dict "ctx" $ctx "component" .component) }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "recordplus.componentLabels" (dict "ctx" $ctx "component" .component) | nindent 4 }}
spec:
  {{- /* Without KEDA (keda.enabled false, or auto on a cluster without it) a fixed count. */}}
  {{- if not (and (include "recordplus.kedaEnabled" $ctx) $values.autoscaling.enabled) }}
  replicas: {{ $values.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: {{ ternary 1 0 (not (empty $gpu)) }}
      maxSurge: {{ ternary 0 1 (not (empty $gpu)) }}
  selector:
    matchLabels:
      {{- include "recordplus.componentSelectorLabels" (dict "ctx" $ctx "component" .component) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "recordplus.componentLabels" (dict "ctx" $ctx "component" .component) | nindent 8 }}
      annotations:
        {{- include "recordplus.checksumAnnotations" $ctx | nindent 8 }}
        {{- if $ctx.Values.metrics.scrapeAnnotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ $port | quote }}
        prometheus.io/path: /metrics
        {{- end }}
        {{- with $values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      {{- if $gpu }}
      {{- /* GPU nodes: the GPU node selector and tolerations plus the component's own. */}}
      {{- $nodeSelector := merge (deepCopy (default dict $values.nodeSelector)) $gpu.nodeSelector }}
      {{- $tolerations := concat (default list $values.tolerations) $gpu.tolerations }}
      {{- $podValues := merge (dict "nodeSelector" $nodeSelector "tolerations" $tolerations) (omit $values "nodeSelector" "tolerations") }}
      {{- include "recordplus.podSpecCommon" (dict "ctx" $ctx "component" $podValues) | nindent 6 }}
      {{- else }}
      {{- include "recordplus.podSpecCommon" (dict "ctx" $ctx "component" $values) | nindent 6 }}
      {{- end }}
      # A worker that gets SIGTERM stops taking messages and finishes the job in hand; an
      # unfinished job is redelivered by RabbitMQ anyway, but this avoids redoing it.
      terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
      containers:
        - name: {{ .component }}
          image: {{ include "recordplus.image" (dict "ctx" $ctx "image" $values.image) }}
          imagePullPolicy: {{ $ctx.Values.image.pullPolicy }}
          # Let the job in hand finish within the grace period, keeping 15 s for the exit itself.
          args: ["worker", "--queues", {{ .queue | quote }}, "--threads", {{ $values.threads | toString | quote }}, "--shutdown-timeout", {{ max 1 (sub (int $values.terminationGracePeriodSeconds) 15) | toString | quote }}]
          ports:
            - name: metrics
              containerPort: {{ $port }}
              protocol: TCP
          envFrom:
            {{- include "recordplus.envFrom" $ctx | nindent 12 }}
          env:
            - name: WORKER_THREADS
              value: {{ $values.threads | toString | quote }}
            {{- with .settings }}
            {{- . | nindent 12 }}
            {{- end }}
            {{- range $name, $value := $values.env }}
            - name: {{ $name }}
              value: {{ $value | toString | quote }}
            {{- end }}
          # A worker serves only its metrics port; a hung process stops answering it.
          livenessProbe:
            tcpSocket:
              port: metrics
            initialDelaySeconds: 10
            periodSeconds: 20
            failureThreshold: 3
          readinessProbe:
            tcpSocket:
              port: metrics
            periodSeconds: 10
          resources:
            {{- $resources := deepCopy $values.resources }}
            {{- if $gpu }}
            {{- $limits := merge (dict $gpu.resourceName ($gpu.count | toString)) (default dict $resources.limits) }}
            {{- $requests := merge (dict $gpu.resourceName ($gpu.count | toString)) (default dict $resources.requests) }}
            {{- $resources = merge (dict "limits" $limits "requests" $requests) $resources }}
            {{- end }}
            {{- toYaml $resources | nindent 12 }}
          securityContext:
            {{- include "recordplus.containerSecurityContext" (dict "ctx" $ctx "component" $values) | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $values.tmpSizeLimit }}
{{- end -}}

{{- define "recordplus.workerScaledObject" -}}
{{- $ctx := .ctx -}}
{{- $autoscaling := .values.autoscaling -}}
{{- $name := include "recordplus.componentName" (dict "ctx" $ctx "component" .component) -}}
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: {{ $name }}
  namespace: {{ $ctx.Release.Namespace }}
  labels:
    {{- include "recordplus.componentLabels" (dict "ctx" $ctx "component" .component) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ $name }}
  minReplicaCount: {{ $autoscaling.minReplicas }}
  maxReplicaCount: {{ $autoscaling.maxReplicas }}
  pollingInterval: {{ $autoscaling.pollingInterval }}
  # Only applies to the last replica (scale to zero): it must outlast the longest job.
  cooldownPeriod: {{ $autoscaling.cooldownPeriod }}
  advanced:
    horizontalPodAutoscalerConfig:
      behavior:
        scaleDown:
          stabilizationWindowSeconds: {{ $autoscaling.scaleDownStabilizationSeconds }}
          policies:
            - type: Pods
              value: 1
              periodSeconds: 60
  triggers:
    - type: prometheus
      name: {{ .queue }}-backlog
      metricType: AverageValue
      metadata:
        serverAddress: {{ $ctx.Values.keda.prometheusServerAddress | quote }}
        query: {{ include "recordplus.backlogQuery" (dict "ctx" $ctx "queue" .queue) | quote }}
        threshold: {{ $autoscaling.jobsPerReplica | toString | quote }}
        activationThreshold: {{ default 0 $autoscaling.activationJobs | toString | quote }}
        ignoreNullValues: "false"
{{- end -}}

{{- define "recordplus.workerPodDisruptionBudget" -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "recordplus.componentName" (dict "ctx" .ctx "component" .component) }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "recordplus.componentLabels" (dict "ctx" .ctx "component" .component) | nindent 4 }}
spec:
  maxUnavailable: {{ .values.pdb.maxUnavailable }}
  # Allow evicting pods that are not ready yet (e.g. waiting for a GPU) without blocking drains.
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      {{- include "recordplus.componentSelectorLabels" (dict "ctx" .ctx "component" .component) | nindent 6 }}
{{- end -}}


{{/* The transcriber's own settings (recordplus.transcriber.config) as env entries. */}}
{{- define "recordplus.transcriberEnv" -}}
{{- $t := .Values.transcriber -}}
- name: TRANSCRIBE_ENGINE
  value: {{ $t.engine | quote }}
{{- with $t.model }}
- name: WHISPER_MODEL
  value: {{ . | quote }}
{{- end }}
- name: WHISPER_DEVICE
  value: {{ ternary $t.device "cpu" $t.gpu.enabled | quote }}
- name: WHISPER_COMPUTE_TYPE
  value: {{ $t.computeType | quote }}
- name: WHISPER_LANGUAGE
  value: {{ $t.language | quote }}
- name: WHISPER_BATCH_SIZE
  value: {{ $t.batchSize | toString | quote }}
- name: TRANSCRIBE_TIME_LIMIT
  value: {{ $t.timeLimitSeconds | toString | quote }}
{{- end -}}

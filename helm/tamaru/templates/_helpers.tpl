{{/*
Names, labels and the pieces every workload shares. Service-specific templates loop over
`.Values.services` and call these with a dict (see "tamaru.service").
*/}}

{{- define "tamaru.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tamaru.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<fullname>-<component>", kept within the 63 characters of a DNS label. */}}
{{- define "tamaru.componentName" -}}
{{- printf "%s-%s" (include "tamaru.fullname" .root | trunc (int (sub 62 (len .component))) | trimSuffix "-") .component }}
{{- end }}

{{- define "tamaru.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels for every object; call with (dict "root" $ "component" "accounts"). */}}
{{- define "tamaru.labels" -}}
helm.sh/chart: {{ include "tamaru.chart" .root }}
{{ include "tamaru.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: tamaru
{{- end }}

{{/* Selector labels: immutable on Deployments, so never add to them after a release. */}}
{{- define "tamaru.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tamaru.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* Selects every pod of this release (network policies). */}}
{{- define "tamaru.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "tamaru.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "tamaru.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "tamaru.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tamaru.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "tamaru.operator.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "tamaru.componentName" (dict "root" . "component" "operator")) .Values.operator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
deepMerge: (dict "base" MAP "over" MAP) -> JSON of base with over's keys winning, recursively.
Unlike sprig's mergeOverwrite on older Helm releases, an explicit `false` or `0` in `over`
wins, so `services.billing.hpa.enabled: false` really turns the default off.
*/}}
{{- define "tamaru.deepMerge" -}}
{{- $out := deepCopy (.base | default dict) }}
{{- range $key, $value := (.over | default dict) }}
{{- $current := get $out $key }}
{{- if and (kindIs "map" $value) (kindIs "map" $current) }}
{{- $_ := set $out $key (fromJson (include "tamaru.deepMerge" (dict "base" $current "over" $value))) }}
{{- else }}
{{- $_ := set $out $key $value }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/*
The effective settings of one service: `serviceDefaults` overlaid with `services.<name>`.
Call with (dict "root" $ "name" "accounts"); returns JSON (use fromJson).
*/}}
{{- define "tamaru.service" -}}
{{- include "tamaru.deepMerge" (dict "base" .root.Values.serviceDefaults "over" (get .root.Values.services .name)) }}
{{- end }}

{{/* Where the PostgreSQL URL comes from: an existing Secret, else the chart's own. */}}
{{- define "tamaru.postgres.secretName" -}}
{{- if .Values.postgres.existingSecret }}
{{- .Values.postgres.existingSecret }}
{{- else }}
{{- include "tamaru.componentName" (dict "root" . "component" "connections") }}
{{- end }}
{{- end }}

{{- define "tamaru.postgres.secretKey" -}}
{{- if .Values.postgres.existingSecret }}
{{- .Values.postgres.existingSecretKey }}
{{- else -}}
TAMARU_DATABASE_URL
{{- end }}
{{- end }}

{{- define "tamaru.nats.secretName" -}}
{{- if .Values.nats.existingSecret }}
{{- .Values.nats.existingSecret }}
{{- else }}
{{- include "tamaru.componentName" (dict "root" . "component" "connections") }}
{{- end }}
{{- end }}

{{- define "tamaru.nats.secretKey" -}}
{{- if .Values.nats.existingSecret }}
{{- .Values.nats.existingSecretKey }}
{{- else -}}
TAMARU_NATS_URL
{{- end }}
{{- end }}

{{/* Fail early, with the value's name, instead of rendering pods that cannot connect. */}}
{{- define "tamaru.validate" -}}
{{- if and (not .Values.postgres.existingSecret) (not .Values.postgres.url) }}
{{- fail "postgres: set postgres.url or postgres.existingSecret (a Secret holding the PostgreSQL URL)" }}
{{- end }}
{{- if and (not .Values.nats.existingSecret) (not .Values.nats.url) }}
{{- fail "nats: set nats.url or nats.existingSecret (a Secret holding the NATS URL)" }}
{{- end }}
{{- end }}

{{/* Environment shared by the services, the operator and the migrations Job. */}}
{{- define "tamaru.commonEnv" -}}
- name: TAMARU_ENV
  value: prod
- name: TAMARU_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: TAMARU_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- if .Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.otel.endpoint | quote }}
{{- end }}
{{- /* Read by the OpenTelemetry SDK's Resource.create, so every span names its pod. */}}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ printf "k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME),k8s.node.name=$(NODE_NAME)%s" (ternary (printf ",deployment.environment=%s" .Values.otel.environment) "" (ne .Values.otel.environment "")) | quote }}
{{- end }}

{{- define "tamaru.natsEnv" -}}
- name: TAMARU_NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "tamaru.nats.secretName" . }}
      key: {{ include "tamaru.nats.secretKey" . }}
{{- end }}

{{- define "tamaru.postgresEnv" -}}
- name: TAMARU_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .secretName | default (include "tamaru.postgres.secretName" .root) }}
      key: {{ include "tamaru.postgres.secretKey" .root }}
{{- end }}

{{/* Pod-level scheduling: a workload's own setting wins over the chart-wide one. */}}
{{- define "tamaru.scheduling" -}}
{{- with (.own.nodeSelector | default .root.Values.nodeSelector) }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.own.tolerations | default .root.Values.tolerations) }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with (.own.affinity | default .root.Values.affinity) }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .root.Values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- end }}

{{/* Writable scratch space: the root filesystem is read-only. */}}
{{- define "tamaru.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{- define "tamaru.tmpVolumeMount" -}}
- name: tmp
  mountPath: /tmp
{{- end }}

{{/* Comma-separated names of the services this release runs. */}}
{{- define "tamaru.enabledServices" -}}
{{- $names := list }}
{{- range $name, $_ := .Values.services }}
{{- if (fromJson (include "tamaru.service" (dict "root" $ "name" $name))).enabled }}
{{- $names = append $names $name }}
{{- end }}
{{- end }}
{{- join "," $names }}
{{- end }}

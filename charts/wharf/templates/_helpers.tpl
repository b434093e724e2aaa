{{/* Names, labels and the RBAC rules shared by the templates. */}}

{{- define "wharf.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wharf.fullname" -}}
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

{{- define "wharf.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wharf.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end -}}

{{- define "wharf.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "wharf.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "wharf.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "wharf.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* ConfigMap names of the L4 services; empty when the map is empty (no flag, no ConfigMap). */}}
{{- define "wharf.tcpConfigMap" -}}
{{- if .Values.controller.tcp -}}{{ include "wharf.fullname" . }}-tcp{{- end -}}
{{- end -}}
{{- define "wharf.udpConfigMap" -}}
{{- if .Values.controller.udp -}}{{ include "wharf.fullname" . }}-udp{{- end -}}
{{- end -}}

{{/*
The rules of one list in files/rbac-rules.yaml (the argument's "list" key), with the
resourceNames placeholders filled in; a rule whose names are all unset is left out, as the
file says. Returns YAML of {rules: [...]} for fromYaml.
*/}}
{{- define "wharf.rbacRules" -}}
{{- $ctx := .ctx -}}
{{- $doc := $ctx.Files.Get "files/rbac-rules.yaml" | fromYaml -}}
{{- $names := dict "election-id" $ctx.Values.controller.electionID "tcp-services-configmap" (include "wharf.tcpConfigMap" $ctx) "udp-services-configmap" (include "wharf.udpConfigMap" $ctx) -}}
{{- $out := list -}}
{{- range (get $doc .list) -}}
{{- $rule := deepCopy . -}}
{{- if hasKey $rule "resourceNames" -}}
{{- $filled := list -}}
{{- range $rule.resourceNames -}}
{{- if and (hasPrefix "<" .) (hasSuffix ">" .) -}}
{{- $v := get $names (trimSuffix ">" (trimPrefix "<" .)) -}}
{{- if $v -}}{{- $filled = append $filled $v -}}{{- end -}}
{{- else -}}
{{- $filled = append $filled . -}}
{{- end -}}
{{- end -}}
{{- if $filled -}}
{{- $_ := set $rule "resourceNames" $filled -}}
{{- $out = append $out $rule -}}
{{- end -}}
{{- else -}}
{{- $out = append $out $rule -}}
{{- end -}}
{{- end -}}
{{- dict "rules" $out | toYaml -}}
{{- end -}}

{{- /* As dolphindb-mgr's templates/license.yaml: the chart makes the license ConfigMap only when given its content. */ -}}
{{- if .Values.license.content }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Values.license.name }}
  labels:
    app.kubernetes.io/instance: {{ .Release.Name }}
data:
  dolphindb.lic: {{ .Values.license.content | quote }}
{{- end }}

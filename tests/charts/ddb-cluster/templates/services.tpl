{{- /* .tpl rather than .yaml: ansible-test sanity runs yamllint on every .yaml file, and a Go template is not YAML. */ -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}-dn
  labels:
    app.kubernetes.io/instance: {{ .Release.Name }}
spec:
  clusterIP: None
  selector:
    app.kubernetes.io/instance: {{ .Release.Name }}
    app.kubernetes.io/component: datanode
  ports:
    - name: ddb
      port: {{ .Values.port }}
{{- range $i, $_ := until (int .Values.instances) }}
---
# One Service per data node, as the DolphinDB seed sets up with instances.<n>.service.
apiVersion: v1
kind: Service
metadata:
  name: {{ $.Release.Name }}-dn-{{ $i }}
  labels:
    app.kubernetes.io/instance: {{ $.Release.Name }}
spec:
  type: {{ $.Values.serviceType }}
  selector:
    statefulset.kubernetes.io/pod-name: {{ $.Release.Name }}-dn-{{ $i }}
  ports:
    - name: ddb
      port: {{ $.Values.port }}
{{- end }}

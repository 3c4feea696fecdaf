{{- /* .tpl rather than .yaml: ansible-test sanity runs yamllint on every .yaml file, and a Go template is not YAML. */ -}}
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-dn
  labels:
    app.kubernetes.io/name: dolphindb
    app.kubernetes.io/instance: {{ .Release.Name }}
    app.kubernetes.io/component: datanode
spec:
  replicas: {{ .Values.instances }}
  serviceName: {{ .Release.Name }}-dn
  selector:
    matchLabels:
      app.kubernetes.io/instance: {{ .Release.Name }}
      app.kubernetes.io/component: datanode
  template:
    metadata:
      labels:
        app.kubernetes.io/name: dolphindb
        app.kubernetes.io/instance: {{ .Release.Name }}
        app.kubernetes.io/component: datanode
    spec:
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels:
                    app.kubernetes.io/instance: {{ .Release.Name }}
                    app.kubernetes.io/component: datanode
      containers:
        - name: dolphindb
          image: {{ .Values.image }}
          ports:
            - name: ddb
              containerPort: {{ .Values.port }}
          # A data node that refuses its license never listens: not Ready, so a license push waits and rolls back.
          readinessProbe:
            tcpSocket:
              port: ddb
            periodSeconds: 2
          volumeMounts:
            - name: data
              mountPath: /data/ddb/server/data
            - name: license
              mountPath: {{ .Values.license.mountPath }}
              subPath: dolphindb.lic
            - name: core
              mountPath: {{ .Values.dolphindb.coreDumpDir }}
            {{- range .Values.extraHostPaths }}
            - name: {{ .name }}
              mountPath: {{ .mountPath }}
            {{- end }}
      volumes:
        - name: license
          configMap:
            name: {{ .Values.license.name }}
        - name: core
          hostPath:
            path: {{ .Values.coreDumpHostPath }}
            type: DirectoryOrCreate
        {{- range .Values.extraHostPaths }}
        - name: {{ .name }}
          hostPath:
            path: {{ .path }}
            type: DirectoryOrCreate
        {{- end }}
  volumeClaimTemplates:
    - metadata:
        name: data
      spec:
        accessModes: [ReadWriteOnce]
        storageClassName: {{ .Values.storageClass }}
        resources:
          requests:
            storage: {{ .Values.storage }}

{{/* Names and labels (Kubernetes recommended labels). */}}
{{- define "curbside.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "curbside.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "curbside.labels" -}}
{{ include "curbside.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "curbside.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/*
The instance folder: read-only and empty (every secret comes from a Secret, so a pod never
generates one of its own), or a shared PVC for a salt file from before CURBSIDE_PAIRWISE_SALT.
*/}}
{{- define "curbside.instanceVolume" -}}
- name: instance
{{- if .Values.instance.existingClaim }}
  persistentVolumeClaim:
    claimName: {{ .Values.instance.existingClaim }}
{{- else }}
  emptyDir:
    sizeLimit: 1Mi
{{- end }}
{{- end -}}

{{- define "curbside.required" -}}
{{- if not .Values.secrets.hubEnv -}}
{{- fail "secrets.hubEnv must name a Secret with CURBSIDE_SECRET_KEY, CURBSIDE_KEY_ENCRYPTION_KEYS, CURBSIDE_DATABASE_URL and CURBSIDE_STORE_URL" -}}
{{- end -}}
{{- if not (or .Values.secrets.pairwiseSalt.name .Values.instance.existingClaim) -}}
{{- fail "set secrets.pairwiseSalt.name (a Secret with the pairwise-subject salt) or instance.existingClaim (a ReadWriteMany PVC with the salt file of an earlier hub): every pod must use the same salt" -}}
{{- end -}}
{{- if ne (empty .Values.auditCheckpoint.privateKeySecret) (empty .Values.auditCheckpoint.publicKeySecret) -}}
{{- fail "set both auditCheckpoint.privateKeySecret and auditCheckpoint.publicKeySecret, or neither: the pods verify checkpoints with the public key that the queue worker signs with" -}}
{{- end -}}
{{- end -}}

{{/*
The pod spec shared by the hub, the workers and the migration Job.
Call with (dict "root" $ "component" "hub" "command" list-or-nil "resources" map "extraEnvFrom" list-or-nil "ports" bool "auditWriter" bool).
"auditWriter": the one pod kind that writes audit checkpoints and so gets the private key.
*/}}
{{- define "curbside.podSpec" -}}
{{- $root := .root -}}
{{- include "curbside.required" $root -}}
automountServiceAccountToken: false
{{- with $root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml $root.Values.podSecurityContext | nindent 2 }}
containers:
  - name: {{ .component }}
    image: {{ include "curbside.image" $root | quote }}
    imagePullPolicy: {{ $root.Values.image.pullPolicy }}
    {{- with .command }}
    command:
      {{- toYaml . | nindent 6 }}
    {{- end }}
    env:
      {{- range $name, $value := $root.Values.config }}
      - name: {{ $name }}
        value: {{ $value | toString | quote }}
      {{- end }}
      {{- if .ports }}
      - name: CURBSIDE_BIND
        value: {{ printf "0.0.0.0:%v" $root.Values.hub.port | quote }}
      {{- end }}
      {{- with $root.Values.secrets.pairwiseSalt }}
      {{- if .name }}
      - name: CURBSIDE_PAIRWISE_SALT
        valueFrom:
          secretKeyRef:
            name: {{ .name }}
            key: {{ .key }}
      {{- end }}
      {{- end }}
      {{- if $root.Values.auditCheckpoint.publicKeySecret }}
      - name: CURBSIDE_AUDIT_CHECKPOINT_PUBLIC_KEY_FILE
        value: /etc/curbside/audit-public/public.pem
      {{- if .auditWriter }}
      - name: CURBSIDE_AUDIT_CHECKPOINT_KEY_FILE
        value: /etc/curbside/audit-private/private.pem
      {{- end }}
      {{- end }}
    envFrom:
      - secretRef:
          name: {{ $root.Values.secrets.hubEnv }}
      {{- with .extraEnvFrom }}
      {{- toYaml . | nindent 6 }}
      {{- end }}
    {{- if .ports }}
    ports:
      - name: http
        containerPort: {{ $root.Values.hub.port }}
        protocol: TCP
      {{- with $root.Values.config.CURBSIDE_METRICS_BIND }}
      - name: metrics
        containerPort: {{ splitList ":" (toString .) | last | int }}
        protocol: TCP
      {{- end }}
    {{- end }}
    securityContext:
      {{- toYaml $root.Values.securityContext | nindent 6 }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      - name: instance
        mountPath: /home/curbside/instance
        readOnly: {{ empty $root.Values.instance.existingClaim }}
      {{- if $root.Values.auditCheckpoint.publicKeySecret }}
      - name: audit-public
        mountPath: /etc/curbside/audit-public
        readOnly: true
      {{- if .auditWriter }}
      - name: audit-private
        mountPath: /etc/curbside/audit-private
        readOnly: true
      {{- end }}
      {{- end }}
    {{- with .probes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $root.Values.tmpSizeLimit }}
  {{- include "curbside.instanceVolume" $root | nindent 2 }}
  {{- if $root.Values.auditCheckpoint.publicKeySecret }}
  - name: audit-public
    secret:
      secretName: {{ $root.Values.auditCheckpoint.publicKeySecret }}
      defaultMode: 0440
  {{- if .auditWriter }}
  - name: audit-private
    secret:
      secretName: {{ $root.Values.auditCheckpoint.privateKeySecret }}
      defaultMode: 0440
  {{- end }}
  {{- end }}
{{- end -}}

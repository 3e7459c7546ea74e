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

{{/* The instance folder must be shared by every pod (the pairwise salt): a Secret or a PVC. */}}
{{- define "curbside.instanceVolume" -}}
{{- if and .Values.instance.existingSecret .Values.instance.existingClaim -}}
{{- fail "set one of instance.existingSecret and instance.existingClaim, not both" -}}
{{- else if .Values.instance.existingSecret -}}
- name: instance
  secret:
    secretName: {{ .Values.instance.existingSecret }}
    defaultMode: 0440  # root:fsGroup 10001, readable by the hub only
{{- else if .Values.instance.existingClaim -}}
- name: instance
  persistentVolumeClaim:
    claimName: {{ .Values.instance.existingClaim }}
{{- else -}}
{{- fail "set instance.existingSecret (a Secret with pairwise_salt) or instance.existingClaim (a ReadWriteMany PVC): every pod must read the same pairwise-subject salt" -}}
{{- end -}}
{{- end -}}

{{- define "curbside.required" -}}
{{- if not .Values.secrets.hubEnv -}}
{{- fail "secrets.hubEnv must name a Secret with CURBSIDE_SECRET_KEY, CURBSIDE_KEY_ENCRYPTION_KEYS, CURBSIDE_DATABASE_URL and CURBSIDE_STORE_URL" -}}
{{- end -}}
{{- end -}}

{{/*
The pod spec shared by the hub, the workers and the migration Job.
Call with (dict "root" $ "component" "hub" "command" list-or-nil "resources" map "extraEnvFrom" list-or-nil "ports" bool).
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
        readOnly: {{ not (empty $root.Values.instance.existingSecret) }}
    {{- with .probes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ $root.Values.tmpSizeLimit }}
  {{- include "curbside.instanceVolume" $root | nindent 2 }}
{{- end -}}

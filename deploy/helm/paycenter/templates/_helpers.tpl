{{/*
Names. The release is one region, so resource names carry the release name only
("paycenter-us-east-payd" for release "paycenter-us-east").
*/}}
{{- define "paycenter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "paycenter.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" -}}
{{- else if contains (include "paycenter.name" .) .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "paycenter.name" .) | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The region, validated: every template needs it. */}}
{{- define "paycenter.region" -}}
{{- $r := required "region is required (e.g. --set region=us-east or a values-<region>.yaml)" .Values.region -}}
{{- if not (regexMatch "^[a-z][a-z0-9-]{1,30}[a-z0-9]$" $r) -}}
{{- fail (printf "region %q: want lower-case letters, digits and '-', like us-east" $r) -}}
{{- end -}}
{{- $r -}}
{{- end -}}

{{- define "paycenter.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "paycenter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: paycenter
paycenter.io/region: {{ include "paycenter.region" . }}
{{- end -}}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "payd"). */}}
{{- define "paycenter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "paycenter.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "paycenter.componentLabels" -}}
{{ include "paycenter.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "paycenter.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The endpoint's public URL, validated, and its host. */}}
{{- define "paycenter.publicURL" -}}
{{- $u := required "endpoint.publicURL is required (e.g. https://us-east.pay.example.com)" .Values.endpoint.publicURL -}}
{{- if not (regexMatch "^https?://[^/]+$" $u) -}}
{{- fail (printf "endpoint.publicURL %q: want scheme://host[:port] with no path" $u) -}}
{{- end -}}
{{- $u -}}
{{- end -}}

{{- define "paycenter.publicHost" -}}
{{- (urlParse (include "paycenter.publicURL" .)).hostname -}}
{{- end -}}

{{/*
Downward-API variables every platform container starts with: its pod IP (it listens and
registers there), pod name and the node's IP (where a DaemonSet Consul agent answers).
*/}}
{{- define "paycenter.downwardEnv" -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: HOST_IP
  valueFrom:
    fieldRef:
      fieldPath: status.hostIP
{{- end -}}

{{/* The Consul agent's address as the containers see it (after paycenter.downwardEnv). */}}
{{- define "paycenter.consulAddr" -}}
{{- $c := .Values.consul -}}
{{- if eq $c.mode "daemonset" -}}
$(HOST_IP):{{ $c.port }}
{{- else if eq $c.mode "sidecar" -}}
127.0.0.1:{{ $c.port }}
{{- else if eq $c.mode "external" -}}
{{ required "consul.address is required with consul.mode external" $c.address }}
{{- else -}}
{{- fail (printf "consul.mode %q: want daemonset, sidecar or external" $c.mode) -}}
{{- end -}}
{{- end -}}

{{/* Consul client settings read by hashicorp/consul/api (ACL token, TLS). */}}
{{- define "paycenter.consulClientEnv" -}}
{{- $c := .Values.consul -}}
{{- if $c.aclTokenSecret.name }}
- name: CONSUL_HTTP_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $c.aclTokenSecret.name }}
      key: {{ $c.aclTokenSecret.key }}
{{- end }}
{{- if eq $c.scheme "https" }}
- name: CONSUL_HTTP_SSL
  value: "true"
- name: CONSUL_CACERT
  value: /etc/paycenter/consul-ca/ca.crt
{{- else if ne $c.scheme "http" }}
{{- fail (printf "consul.scheme %q: want http or https" $c.scheme) }}
{{- end }}
{{- end -}}

{{- define "paycenter.consulCAVolume" -}}
{{- if eq .Values.consul.scheme "https" }}
- name: consul-ca
  secret:
    secretName: {{ required "consul.caSecret.name is required with consul.scheme https" .Values.consul.caSecret.name }}
    items:
      - key: {{ .Values.consul.caSecret.key }}
        path: ca.crt
{{- end }}
{{- end -}}

{{- define "paycenter.consulCAMount" -}}
{{- if eq .Values.consul.scheme "https" }}
- name: consul-ca
  mountPath: /etc/paycenter/consul-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/*
The Consul agent as a native sidecar (an init container that keeps running, Kubernetes
1.29+): it starts before the app container and stops after it, so payd can deregister
through it on the way out.
*/}}
{{- define "paycenter.consulSidecar" -}}
{{- $c := .Values.consul -}}
{{- if eq $c.mode "sidecar" }}
- name: consul-agent
  image: {{ $c.sidecar.image }}
  imagePullPolicy: IfNotPresent
  restartPolicy: Always
  env:
    {{- include "paycenter.downwardEnv" . | nindent 4 }}
    - name: CONSUL_HTTP_ADDR
      value: 127.0.0.1:{{ $c.port }}
    {{- if $c.sidecar.gossipKeySecret.name }}
    - name: GOSSIP_KEY
      valueFrom:
        secretKeyRef:
          name: {{ $c.sidecar.gossipKeySecret.name }}
          key: {{ $c.sidecar.gossipKeySecret.key }}
    {{- end }}
  command: ["consul"]
  args:
    - agent
    - -datacenter={{ default (include "paycenter.region" .) $c.sidecar.datacenter }}
    - -node=$(POD_NAME)
    - -bind=$(POD_IP)
    - -advertise=$(POD_IP)
    - -client=127.0.0.1
    - -http-port={{ $c.port }}
    - -data-dir=/consul/data
    - -hcl=leave_on_terminate = true
    {{- if $c.sidecar.gossipKeySecret.name }}
    - -encrypt=$(GOSSIP_KEY)
    {{- end }}
    {{- if not $c.sidecar.retryJoin }}
    {{- fail "consul.sidecar.retryJoin is required with consul.mode sidecar (the Consul servers to join)" }}
    {{- end }}
    {{- range $c.sidecar.retryJoin }}
    - -retry-join={{ . }}
    {{- end }}
  ports:
    - name: serflan-tcp
      containerPort: 8301
      protocol: TCP
    - name: serflan-udp
      containerPort: 8301
      protocol: UDP
  # The app container starts once this passes: payd registers through the agent at start.
  startupProbe:
    exec:
      command: ["consul", "info"]
    periodSeconds: 2
    failureThreshold: 30
  resources:
    {{- toYaml $c.sidecar.resources | nindent 4 }}
  securityContext:
    allowPrivilegeEscalation: false
    capabilities:
      drop: ["ALL"]
  volumeMounts:
    - name: consul-data
      mountPath: /consul/data
{{- end }}
{{- end -}}

{{- define "paycenter.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "paycenter.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* Go duration ("5s", "1m30s", "500ms") to whole seconds, rounded up. */}}
{{- define "paycenter.durationSeconds" -}}
{{- $d := . | toString -}}
{{- $total := 0.0 -}}
{{- range $m := regexFindAll "[0-9.]+(ms|h|m|s)" $d -1 -}}
{{- $n := regexFind "^[0-9.]+" $m | float64 -}}
{{- $u := regexFind "(ms|h|m|s)$" $m -}}
{{- if eq $u "h" }}{{ $total = addf $total (mulf $n 3600) }}
{{- else if eq $u "m" }}{{ $total = addf $total (mulf $n 60) }}
{{- else if eq $u "s" }}{{ $total = addf $total $n }}
{{- else }}{{ $total = addf $total (divf $n 1000) }}{{ end -}}
{{- end -}}
{{- if not (regexMatch "^([0-9.]+(ms|h|m|s))+$" $d) -}}
{{- fail (printf "%q is not a duration like 5s or 1m30s" $d) -}}
{{- end -}}
{{- ceil $total | int -}}
{{- end -}}

{{/* NetworkPolicy egress rules shared by payd and payedge. */}}
{{- define "paycenter.np.consulEgress" -}}
{{- $np := .Values.networkPolicy -}}
{{- $mode := .Values.consul.mode -}}
{{- if eq $mode "daemonset" -}}
# The Consul client agent on this pod's node: hostPort {{ .Values.consul.port }} on the node's
# IP, which the CNI translates to the agent pod.
- to:
    {{- range $np.nodeCIDRs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
    {{- toYaml $np.consulAgents | nindent 4 }}
  ports:
    - port: {{ .Values.consul.port }}
      protocol: TCP
{{- else if eq $mode "sidecar" -}}
# The sidecar agent talks to the Consul servers: server RPC and LAN gossip.
- to:
    {{- toYaml $np.consulServers | nindent 4 }}
  ports:
    - port: 8300
      protocol: TCP
    - port: 8301
      protocol: TCP
    - port: 8301
      protocol: UDP
{{- else -}}
# An external Consul agent.
- to:
    {{- toYaml $np.consulServers | nindent 4 }}
  ports:
    - port: {{ .Values.consul.port }}
      protocol: TCP
{{- end }}
{{- end -}}
{{- define "paycenter.np.dnsEgress" -}}
- to:
    {{- toYaml .Values.networkPolicy.dns | nindent 4 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end -}}

# Sourced by scripts/stack.sh: the DNS parts of the local stack beyond the main dnsdist.
#
# stack_dns_zone DIR ZONE   writes DIR/zone: ZONE plus tests/fixtures/discovery.zone
# stack_dns_conf DIR        appends to DIR/dnsdist.conf a second DoH listener with CORS and one
#                           without CORS (both serve the same zone)
# stack_dns_start DIR       starts a DoH endpoint that accepts and never answers, picks a port
#                           nobody listens on, and starts unbound (validating a zone signed now)
#                           behind nginx for the AD bit
# stack_dns_env             prints the exports for DIR/env:
#   SEEDMESH_DOH2_URL         a second resolver (same dnsdist, another listener), with CORS
#   SEEDMESH_DOH_NOCORS_URL   a resolver that sends no access-control-allow-origin header
#   SEEDMESH_DOH_DOWN_URL     a closed port
#   SEEDMESH_DOH_HANG_URL     accepts connections, never answers
#   SEEDMESH_DOH_AD_URL       unbound validating secure.test with DNSSEC, via nginx, with CORS
#   SEEDMESH_DNS_AD_PORT      unbound's plain DNS port, for dig
# Uses free_port and wait_for from stack.sh.

stack_dns_zone() {
  local dir=$1 zone=$2
  cat "$zone" "$root/tests/fixtures/discovery.zone" >"$dir/zone"
}

stack_dns_conf() {
  local dir=$1
  export SEEDMESH_DOH2_PORT=${SEEDMESH_DOH2_PORT:-$(free_port)}
  export SEEDMESH_DOH_NOCORS_PORT=${SEEDMESH_DOH_NOCORS_PORT:-$(free_port)}
  cat >>"$dir/dnsdist.conf" <<CONF
addDOHLocal("127.0.0.1:$SEEDMESH_DOH2_PORT", nil, nil, "/dns-query", {
  customResponseHeaders = { ["access-control-allow-origin"] = "*" },
})
addDOHLocal("127.0.0.1:$SEEDMESH_DOH_NOCORS_PORT", nil, nil, "/dns-query")
CONF
  export SEEDMESH_DOH2_URL="http://127.0.0.1:$SEEDMESH_DOH2_PORT/dns-query"
  export SEEDMESH_DOH_NOCORS_URL="http://127.0.0.1:$SEEDMESH_DOH_NOCORS_PORT/dns-query"
}

stack_dns_start() {
  local dir=$1
  export SEEDMESH_DOH_DOWN_URL="http://127.0.0.1:$(free_port)/dns-query"

  local hang_port=${SEEDMESH_DOH_HANG_PORT:-$(free_port)}
  node "$root/scripts/hang-server.mjs" "$hang_port" >"$dir/hang.log" 2>&1 &
  echo $! >"$dir/hang.pid"
  export SEEDMESH_DOH_HANG_URL="http://127.0.0.1:$hang_port/dns-query"
  wait_for hang-server "$dir/hang.log" grep -q listening "$dir/hang.log"

  stack_dns_unbound "$dir"
}

# DNSSEC: secure.test signed now (signatures expire), unbound validating it with the key as trust
# anchor, nginx turning browser HTTP/1.1 into the h2c unbound's DoH speaks.
stack_dns_unbound() {
  local dir=$1 ad=$dir/unbound
  rm -rf "$ad"
  mkdir -p "$ad"
  cat >"$ad/secure.test.zone" <<ZONE
\$ORIGIN secure.test.
\$TTL 300
@ IN SOA ns.secure.test. admin.secure.test. 1 3600 600 86400 300
@ IN NS ns.secure.test.
ns IN A 127.0.0.1
_seedmesh IN TXT "v=sm1; rendezvous=validated; slots=2"
_seedmesh IN TXT "v=sm1; peer=dnssec-peer"
_seedmesh.alias IN CNAME seeds.elsewhere
seeds.elsewhere IN TXT "v=sm1; peer=aliased-peer"
ZONE
  local key
  key=$(cd "$ad" && ldns-keygen -a ECDSAP256SHA256 -k secure.test)
  (cd "$ad" && ldns-signzone -o secure.test. secure.test.zone "$key" >/dev/null)

  export SEEDMESH_DNS_AD_PORT=${SEEDMESH_DNS_AD_PORT:-$(free_port)}
  local h2_port ad_port
  h2_port=$(free_port)
  ad_port=${SEEDMESH_DOH_AD_PORT:-$(free_port)}
  cat >"$ad/unbound.conf" <<CONF
server:
  interface: 127.0.0.1@$SEEDMESH_DNS_AD_PORT
  interface: 127.0.0.1@$h2_port
  https-port: $h2_port
  http-notls-downstream: yes
  do-daemonize: no
  use-syslog: no
  logfile: ""
  username: ""
  chroot: ""
  directory: "$ad"
  pidfile: ""
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  module-config: "validator iterator"
  trust-anchor-file: "$ad/$key.ds"
  local-zone: "test." nodefault
  val-log-level: 2
auth-zone:
  name: "secure.test."
  zonefile: "$ad/secure.test.zone.signed"
  for-upstream: yes
  for-downstream: no
  fallback-enabled: no
CONF
  unbound -d -c "$ad/unbound.conf" >"$dir/unbound.log" 2>&1 &
  echo $! >"$dir/unbound.pid"

  mkdir -p "$ad/nginx"
  cat >"$ad/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $ad/nginx.pid;
error_log $dir/nginx.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $ad/nginx;
  proxy_temp_path $ad/nginx;
  fastcgi_temp_path $ad/nginx;
  uwsgi_temp_path $ad/nginx;
  scgi_temp_path $ad/nginx;
  server {
    listen 127.0.0.1:$ad_port;
    location /dns-query {
      if (\$request_method = OPTIONS) {
        add_header access-control-allow-origin * always;
        add_header access-control-allow-headers content-type always;
        return 204;
      }
      add_header access-control-allow-origin * always;
      grpc_pass grpc://127.0.0.1:$h2_port;
    }
  }
}
CONF
  nginx -c "$ad/nginx.conf" -e "$dir/nginx.log" >>"$dir/nginx.log" 2>&1 &
  echo $! >"$dir/nginx.pid"
  export SEEDMESH_DOH_AD_URL="http://127.0.0.1:$ad_port/dns-query"
  # A TXT query for _seedmesh.secure.test with AD set.
  local query=AAABIAABAAAAAAAACV9zZWVkbWVzaAZzZWN1cmUEdGVzdAAAEAAB
  wait_for "unbound behind nginx" "$dir/unbound.log" curl -sf -o /dev/null "$SEEDMESH_DOH_AD_URL?dns=$query"
}

stack_dns_env() {
  local var
  for var in SEEDMESH_DOH2_URL SEEDMESH_DOH_NOCORS_URL SEEDMESH_DOH_DOWN_URL SEEDMESH_DOH_HANG_URL \
    SEEDMESH_DOH_AD_URL SEEDMESH_DNS_AD_PORT; do
    printf 'export %s=%q\n' "$var" "${!var}"
  done
}

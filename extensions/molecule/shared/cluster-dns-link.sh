#!/bin/sh
# The cluster DNS link the dns_resolver role would make as a dummy interface: this machine's kernel has no
# 'dummy' module, so containers on it get a veth pair, both ends up, and the role runs with
# dns_resolver_cluster_dns_link_create false (the VM tier checks the role's own dummy link on Debian's
# kernel). Prints "made" when it made the link; a link already there is left as it is.
set -e
ip link show dev rk-clusterdns >/dev/null 2>&1 && exit 0
ip link add rk-clusterdns type veth peer name rk-cdns-peer
ip address add 169.254.53.53/32 dev rk-clusterdns
ip link set dev rk-cdns-peer up
ip link set dev rk-clusterdns up
echo made

#!/bin/bash
# The lab inside the test VM, whose kernel has sch_netem: the per-site
# story with tc netem as the interconnect (-interconnect netem fails
# rather than fall back to the relay). The host shares /payload: the lab
# and the agents' binaries, and this script.
set -u
. /payload/checks.sh
start=$SECONDS
/payload/vmroute-lab -bin /payload/bin -interconnect netem -layout per-site demo >/payload/lab.log 2>&1
rc=$?
echo "the lab ran for $((SECONDS - start)) s" >>/payload/lab.log
if [ $rc -eq 0 ] && grep -q '^the interconnect: tc netem' /payload/lab.log && grep -q "the interconnect's two crossings" /payload/lab.log; then
	pass lab-with-netem
else
	fail lab-with-netem "exit $rc: $(tail -8 /payload/lab.log)"
fi
echo "CHECKS DONE" | tee -a "$R"

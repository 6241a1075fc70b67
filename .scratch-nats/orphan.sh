set -u
D=/tmp/nd4
node --import tsx holder.ts $D > /tmp/holder1.log 2>&1 &
H=$!
for i in $(seq 100); do grep -q READY /tmp/holder1.log && break; sleep 0.1; done
cat /tmp/holder1.log
OLD=$(node -e "console.log(JSON.parse(require('fs').readFileSync('$D/nats/server.json')).pid)")
echo "holder node pid $H, nats-server pid $OLD, parent: $(ps -o ppid= -p $OLD)"
echo "--- live owner: a second start with the same dataDir must refuse"
node --import tsx holder.ts $D 2>&1 | grep -E 'READY|Error' | head -3
echo "--- kill -9 the holder"
kill -9 $H; sleep 0.3
echo "orphan still running: $(ps -o pid=,ppid=,args= -p $OLD)"
echo "--- start again in same dataDir"
node --import tsx holder.ts $D > /tmp/holder2.log 2>&1 &
H2=$!
for i in $(seq 100); do grep -q READY /tmp/holder2.log && break; sleep 0.1; done
cat /tmp/holder2.log
echo "old pid $OLD alive? $(ps -o pid= -p $OLD || echo no)"
echo "servers on $D: $(pgrep -f "nats-server.*$D" | tr '\n' ' ')"
kill -9 $H2

package runner

import (
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// transactionsV1Versions caps the request versions that opt a
// transactional producer into transactions v2 (KIP-890 part 2: produce
// v12+, EndTxn v5+, TxnOffsetCommit v5+), so exactly-once sessions use the
// v1 protocol — explicit AddPartitionsToTxn and AddOffsetsToTxn, one
// producer epoch per session — even on a cluster whose transaction.version
// feature is 2 (the default of a new Kafka 4 cluster). Brokers serve both.
//
// Why: against Apache Kafka 4.4 with transactions v2, a broker restart
// right after a transaction committed left that transaction's marker
// unwritten on one partition it had touched. On the group's
// __consumer_offsets partition this hangs the group (every OffsetFetch
// answers UNSTABLE_OFFSET_COMMIT, forever: the transaction coordinator
// considers the transaction complete and never retries the marker); on an
// output or changelog partition it left the offsets committed and the
// records not (lost inputs, wrong counts). The chaos suite's broker-sigterm
// and broker-sigkill scenarios reproduced both in 3 of 3 runs with v2 and
// in 0 of N with v1 (docs/testing.md has the figures). Every other
// request keeps the newest version both sides support.
//
// WithKafkaOptions(kgo.MaxVersions(...)) replaces the cap, for a cluster
// where transactions v2 is known to be safe.
func transactionsV1Versions() *kversion.Versions {
	v := kversion.Stable()
	for key, max := range map[kmsg.Key]int16{kmsg.Produce: 11, kmsg.EndTxn: 4, kmsg.TxnOffsetCommit: 4} {
		if cur, ok := v.LookupMaxKeyVersion(int16(key)); ok && cur > max {
			v.SetMaxKeyVersion(int16(key), max)
		}
	}
	return v
}

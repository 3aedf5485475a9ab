package runner

import (
	"context"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// leaveStatic removes this instance's static member from the processor's
// group ([WithLeaveGroupsOnStop]): franz-go's close does not leave for a
// static member, which is what keeps a restart free of rebalances. It is
// bounded by the shutdown timeout; a failure is logged, and the partitions
// then move when the session times out, as without the option.
func (pp *processorPart) leaveStatic() {
	id := pp.svc.staticInstanceID()
	if id == "" || pp.svc.mem != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), pp.svc.shutdownTimeout())
	defer cancel()
	cl, err := kgo.NewClient(pp.svc.clientOpts()...)
	if err != nil {
		pp.log.Warn("leaving the group failed; the partitions move when the session times out", "error", err)
		return
	}
	defer cl.Close()
	resps, err := kadm.NewClient(cl).LeaveGroup(ctx, kadm.LeaveGroup(pp.p.spec.Group).InstanceIDs(id).Reason("kafmesh instance stopped (WithLeaveGroupsOnStop)"))
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		pp.log.Warn("leaving the group failed; the partitions move when the session times out", "instance_id", id, "error", err)
		return
	}
	pp.log.Info("left the group", "instance_id", id)
}

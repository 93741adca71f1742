package esdbserver

import (
	"errors"
	"math"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/portal-access/backend/internal/esdbserver/eventlog"
)

// subscribe serves a catch-up subscription: confirmation, then history from the (exclusive)
// starting point, caught_up, then live events as they are committed. It always reads from
// storage, so the switch from catch-up to live can neither miss nor repeat an event, and a
// slow consumer is held back by gRPC flow control instead of buffering without bound.
func (s *streamsService) subscribe(o *api.ReadReq_Options, flt *filter, stringIDs bool, out api.Streams_ReadServer) error {
	ctx := out.Context()
	src, err := s.newSource(o)
	if err != nil {
		return err
	}
	if err := out.Send(&api.ReadResp{Content: &api.ReadResp_Confirmation{Confirmation: &api.ReadResp_SubscriptionConfirmation{
		SubscriptionId: uuid.NewString(),
	}}}); err != nil {
		return err
	}
	caughtUp := false
	var scanned, lastPos uint64 // events scanned since the last checkpoint, and the last one's position
	var chunk encodedChunk
	defer chunk.reset()
	for {
		changed := s.log.Changed() // take it before reading, so no commit slips between read and wait
		if err := src.next(s.log, &chunk, flt, stringIDs); err != nil {
			return s.toStatus(out, src.name, err)
		}
		for i := range chunk.entries {
			e := &chunk.entries[i]
			lastPos = e.pos
			if e.msg.buf != nil {
				if err := out.SendMsg(&e.msg); err != nil {
					return err
				}
			}
			scanned++
			if flt != nil && scanned >= flt.window {
				if err := sendCheckpoint(out, lastPos); err != nil {
					return err
				}
				scanned = 0
			}
		}
		if len(chunk.entries) == readChunk {
			continue
		}
		if !caughtUp {
			caughtUp = true
			if err := out.Send(&api.ReadResp{Content: &api.ReadResp_CaughtUp_{CaughtUp: &api.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		// Let a filtered consumer record its progress through events it did not receive.
		if flt != nil && scanned > 0 {
			if err := sendCheckpoint(out, lastPos); err != nil {
				return err
			}
			scanned = 0
		}
		chunk.reset() // do not hold a slab while waiting
		select {
		case <-changed:
		case <-s.log.Done():
			return status.Error(codes.Unavailable, "event store is shutting down")
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

func sendCheckpoint(out api.Streams_ReadServer, pos uint64) error {
	return out.Send(&api.ReadResp{Content: &api.ReadResp_Checkpoint_{Checkpoint: &api.ReadResp_Checkpoint{
		CommitPosition: pos, PreparePosition: pos,
	}}})
}

// source yields successive chunks of a subscription's events after a cursor.
type source struct {
	name  string
	all   bool
	after uint64 // $all: last delivered position; stream: next revision to read
}

func (s *streamsService) newSource(o *api.ReadReq_Options) (*source, error) {
	switch so := o.GetStreamOption().(type) {
	case *api.ReadReq_Options_All:
		src := &source{name: "$all", all: true}
		switch v := so.All.GetAllOption().(type) {
		case *api.ReadReq_Options_AllOptions_Position:
			src.after = v.Position.GetCommitPosition()
		case *api.ReadReq_Options_AllOptions_End:
			src.after = s.log.Head()
		}
		return src, nil
	case *api.ReadReq_Options_Stream:
		name := string(so.Stream.GetStreamIdentifier().GetStreamName())
		src := &source{name: name}
		switch v := so.Stream.GetRevisionOption().(type) {
		case *api.ReadReq_Options_StreamOptions_Revision:
			src.after = v.Revision + 1
		case *api.ReadReq_Options_StreamOptions_End:
			last, _ := s.log.StreamLast(name)
			src.after = uint64(last + 1)
		default:
			src.after = 0
		}
		return src, nil
	}
	return nil, status.Error(codes.InvalidArgument, "subscribe: a stream or $all is required")
}

// next reads the chunk of events after the cursor into c and advances the cursor.
func (src *source) next(lg *eventlog.Log, c *encodedChunk, flt *filter, stringIDs bool) error {
	c.reset()
	collect := func(v *eventlog.View) bool { c.add(v, flt.match(v), stringIDs); return true }
	if src.all {
		if src.after == math.MaxUint64 {
			return nil
		}
		if err := lg.ScanAll(src.after+1, false, readChunk, collect); err != nil {
			return err
		}
		if n := len(c.entries); n > 0 {
			src.after = c.entries[n-1].pos
		}
		return nil
	}
	err := lg.ScanStream(src.name, src.after, false, readChunk, collect)
	if errors.Is(err, eventlog.ErrStreamNotFound) {
		return nil // a subscription may wait for a stream that does not exist yet
	}
	if err != nil {
		return err
	}
	if n := len(c.entries); n > 0 {
		src.after = c.entries[n-1].rev + 1
	}
	return nil
}

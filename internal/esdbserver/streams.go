package esdbserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"regexp"
	"strconv"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	api "github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portal-access/backend/internal/esdbserver/eventlog"
)

type streamsService struct {
	api.UnimplementedStreamsServer
	log    *eventlog.Log
	logger *slog.Logger
}

// Append implements the client-streaming append: one options message, then the events. The
// messages are decoded by hand (appendwire.go) rather than into the generated AppendReq.
func (s *streamsService) Append(stream api.Streams_AppendServer) error {
	var msg appendMsg
	if err := stream.RecvMsg(&msg); err != nil {
		return err
	}
	if msg.kind != appendMsgOptions {
		return status.Error(codes.InvalidArgument, "append: the first message must carry options")
	}
	name := string(msg.stream)
	expected := msg.expected
	var events []eventlog.Proposed
	size := 0
	for {
		err := stream.RecvMsg(&msg)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if msg.kind != appendMsgProposed {
			return status.Error(codes.InvalidArgument, "append: expected a proposed message")
		}
		id, err := msg.id()
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "append: event %d: %v", len(events), err)
		}
		size += len(msg.data) + len(msg.customMeta)
		if size > eventlog.MaxAppendSize {
			return status.Errorf(codes.InvalidArgument, "append: maximum append size of %d bytes exceeded", eventlog.MaxAppendSize)
		}
		events = append(events, msg.proposed(id))
	}
	res, err := s.log.Append(stream.Context(), name, expected, events)
	var wev *eventlog.WrongExpectedVersionError
	if errors.As(err, &wev) {
		return stream.SendAndClose(&api.AppendResp{Result: &api.AppendResp_WrongExpectedVersion_{
			WrongExpectedVersion: wrongExpectedVersion(wev),
		}})
	}
	if err != nil {
		return s.toStatus(stream, name, err)
	}
	// AppendResp{success{current_revision or no_stream, position or no_position}}, pre-encoded.
	return stream.SendMsg(appendSuccess(res))
}

func wrongExpectedVersion(e *eventlog.WrongExpectedVersionError) *api.AppendResp_WrongExpectedVersion {
	w := &api.AppendResp_WrongExpectedVersion{}
	if e.Current < 0 {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
		w.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_NoStream_20_6_0{NoStream_20_6_0: &shared.Empty{}}
	} else {
		w.CurrentRevisionOption = &api.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(e.Current)}
		w.CurrentRevisionOption_20_6_0 = &api.AppendResp_WrongExpectedVersion_CurrentRevision_20_6_0{CurrentRevision_20_6_0: uint64(e.Current)}
	}
	switch e.Expected.Kind {
	case eventlog.ExpectNoStream:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case eventlog.ExpectStreamExists:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
	case eventlog.ExpectRevision:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: e.Expected.Revision}
	default:
		w.ExpectedRevisionOption = &api.AppendResp_WrongExpectedVersion_ExpectedAny{ExpectedAny: &shared.Empty{}}
	}
	return w
}

// toStatus maps storage errors to the gRPC statuses and trailers the official client decodes.
func (s *streamsService) toStatus(st grpc.ServerStream, name string, err error) error {
	var wev *eventlog.WrongExpectedVersionError
	switch {
	case errors.Is(err, eventlog.ErrStreamDeleted):
		// The client reads stream-name unchecked when it sees stream-deleted: always send both.
		st.SetTrailer(metadata.Pairs("exception", "stream-deleted", "stream-name", name))
		return status.Errorf(codes.FailedPrecondition, "stream %q is deleted", name)
	case errors.As(err, &wev):
		st.SetTrailer(metadata.Pairs("exception", "wrong-expected-version",
			"expected-version", wev.Expected.String(), "actual-version", strconv.FormatInt(wev.Current, 10)))
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, eventlog.ErrStreamNotFound):
		st.SetTrailer(metadata.Pairs("exception", "stream-not-found", "stream-name", name))
		return status.Errorf(codes.NotFound, "stream %q not found", name)
	case errors.Is(err, eventlog.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, eventlog.ErrClosed):
		return status.Error(codes.Unavailable, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	s.logger.Error("embedded event store: request failed", "stream", name, "error", err)
	return status.Error(codes.Internal, err.Error())
}

// unaryStream lets toStatus set trailers on unary calls.
type unaryStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (u unaryStream) SetTrailer(md metadata.MD) { _ = grpc.SetTrailer(u.ctx, md) }

func expectedFrom(rev uint64, isRev, noStream, exists bool) eventlog.Expected {
	switch {
	case isRev:
		return eventlog.Expected{Kind: eventlog.ExpectRevision, Revision: rev}
	case noStream:
		return eventlog.Expected{Kind: eventlog.ExpectNoStream}
	case exists:
		return eventlog.Expected{Kind: eventlog.ExpectStreamExists}
	}
	return eventlog.Expected{Kind: eventlog.ExpectAny}
}

// Delete soft-deletes a stream.
func (s *streamsService) Delete(ctx context.Context, req *api.DeleteReq) (*api.DeleteResp, error) {
	o := req.GetOptions()
	name := string(o.GetStreamIdentifier().GetStreamName())
	_, isRev := o.GetExpectedStreamRevision().(*api.DeleteReq_Options_Revision)
	exp := expectedFrom(o.GetRevision(), isRev, o.GetNoStream() != nil, o.GetStreamExists() != nil)
	pos, err := s.log.Delete(ctx, name, exp)
	if err != nil {
		return nil, s.toStatus(unaryStream{ctx: ctx}, name, err)
	}
	return &api.DeleteResp{PositionOption: &api.DeleteResp_Position_{Position: &api.DeleteResp_Position{
		CommitPosition: pos, PreparePosition: pos}}}, nil
}

// Tombstone deletes a stream for good.
func (s *streamsService) Tombstone(ctx context.Context, req *api.TombstoneReq) (*api.TombstoneResp, error) {
	o := req.GetOptions()
	name := string(o.GetStreamIdentifier().GetStreamName())
	_, isRev := o.GetExpectedStreamRevision().(*api.TombstoneReq_Options_Revision)
	exp := expectedFrom(o.GetRevision(), isRev, o.GetNoStream() != nil, o.GetStreamExists() != nil)
	pos, err := s.log.Tombstone(ctx, name, exp)
	if err != nil {
		return nil, s.toStatus(unaryStream{ctx: ctx}, name, err)
	}
	return &api.TombstoneResp{PositionOption: &api.TombstoneResp_Position_{Position: &api.TombstoneResp_Position{
		CommitPosition: pos, PreparePosition: pos}}}, nil
}

// BatchAppend is not announced in ServerFeatures, so the official client never calls it.
func (s *streamsService) BatchAppend(api.Streams_BatchAppendServer) error {
	return status.Error(codes.Unimplemented, "BatchAppend: "+errUnsupported.Error())
}

func putBE(b []byte, v uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

func beUint64(b []byte) uint64 {
	var v uint64
	for _, x := range b {
		v = v<<8 | uint64(x)
	}
	return v
}

// filter decides which events a filtered subscription or read delivers.
type filter struct {
	onType   bool
	prefixes []string
	re       *regexp.Regexp
	window   uint64 // events scanned between checkpoints
}

func newFilter(o *api.ReadReq_Options_FilterOptions) (*filter, error) {
	if o == nil {
		return nil, nil
	}
	f := &filter{}
	var expr *api.ReadReq_Options_FilterOptions_Expression
	switch v := o.GetFilter().(type) {
	case *api.ReadReq_Options_FilterOptions_EventType:
		f.onType, expr = true, v.EventType
	case *api.ReadReq_Options_FilterOptions_StreamIdentifier:
		expr = v.StreamIdentifier
	default:
		return nil, fmt.Errorf("filter: neither event type nor stream identifier")
	}
	f.prefixes = expr.GetPrefix()
	if r := expr.GetRegex(); r != "" {
		re, err := regexp.Compile(r)
		if err != nil {
			return nil, fmt.Errorf("filter: bad regex: %w", err)
		}
		f.re = re
	}
	max := uint64(32)
	if m := o.GetMax(); m > 0 {
		max = uint64(m)
	}
	mult := uint64(o.GetCheckpointIntervalMultiplier())
	if mult == 0 {
		mult = 1
	}
	f.window = max * mult
	return f, nil
}

func (f *filter) match(v *eventlog.View) bool {
	if f == nil {
		return true
	}
	s := v.Stream
	if f.onType {
		s = v.Type
	}
	if f.re != nil {
		return f.re.Match(s)
	}
	for _, p := range f.prefixes {
		if len(s) >= len(p) && string(s[:len(p)]) == p {
			return true
		}
	}
	return len(f.prefixes) == 0
}

const readChunk = 512

// Read serves one-off reads and subscriptions, on a stream or on $all.
func (s *streamsService) Read(req *api.ReadReq, out api.Streams_ReadServer) error {
	o := req.GetOptions()
	if o == nil {
		return status.Error(codes.InvalidArgument, "read: options are required")
	}
	flt, err := newFilter(o.GetFilter())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	stringIDs := o.GetUuidOption().GetString_() != nil
	backwards := o.GetReadDirection() == api.ReadReq_Options_Backwards
	if o.GetSubscription() != nil {
		if backwards {
			return status.Error(codes.InvalidArgument, "read: subscriptions are forwards only")
		}
		return s.subscribe(o, flt, stringIDs, out)
	}
	count := o.GetCount()
	switch so := o.GetStreamOption().(type) {
	case *api.ReadReq_Options_Stream:
		return s.readStream(so.Stream, backwards, count, flt, stringIDs, out)
	case *api.ReadReq_Options_All:
		return s.readAll(so.All, backwards, count, flt, stringIDs, out)
	}
	return status.Error(codes.InvalidArgument, "read: a stream or $all is required")
}

func (s *streamsService) readStream(o *api.ReadReq_Options_StreamOptions, backwards bool, count uint64, flt *filter, stringIDs bool, out api.Streams_ReadServer) error {
	name := string(o.GetStreamIdentifier().GetStreamName())
	var from uint64
	switch v := o.GetRevisionOption().(type) {
	case *api.ReadReq_Options_StreamOptions_Revision:
		from = v.Revision
	case *api.ReadReq_Options_StreamOptions_End:
		if !backwards {
			return nil // nothing lies after the end
		}
		from = math.MaxUint64
	default:
		if backwards {
			return nil // nothing lies before the start
		}
	}
	// Read in chunks so that a large count never holds one iterator (and its snapshot) for long.
	var chunk encodedChunk
	defer chunk.reset()
	remaining := count
	for first := true; remaining > 0; first = false {
		chunk.reset()
		n := min(remaining, readChunk)
		err := s.log.ScanStream(name, from, backwards, n, func(v *eventlog.View) bool {
			chunk.add(v, flt.match(v), stringIDs)
			return true
		})
		if errors.Is(err, eventlog.ErrStreamNotFound) {
			if !first {
				return nil // deleted while being read: what was sent stands
			}
			return out.Send(&api.ReadResp{Content: &api.ReadResp_StreamNotFound_{StreamNotFound: &api.ReadResp_StreamNotFound{
				StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)},
			}}})
		}
		if err != nil {
			return s.toStatus(out, name, err)
		}
		sent, err := sendChunk(out, &chunk)
		if err != nil {
			return err
		}
		remaining -= min(remaining, sent) // a filtered read counts only what it delivers
		if uint64(len(chunk.entries)) < n {
			return nil
		}
		last := chunk.entries[len(chunk.entries)-1].rev
		if backwards {
			if last == 0 {
				return nil
			}
			from = last - 1
		} else {
			from = last + 1
		}
		if err := out.Context().Err(); err != nil {
			return status.FromContextError(err).Err()
		}
	}
	return nil
}

// sendChunk sends the chunk's encoded events and returns how many it sent.
func sendChunk(out grpc.ServerStream, c *encodedChunk) (uint64, error) {
	var sent uint64
	for i := range c.entries {
		if c.entries[i].msg.buf == nil {
			continue
		}
		if err := out.SendMsg(&c.entries[i].msg); err != nil {
			return sent, err
		}
		sent++
	}
	return sent, nil
}

func (s *streamsService) readAll(o *api.ReadReq_Options_AllOptions, backwards bool, count uint64, flt *filter, stringIDs bool, out api.Streams_ReadServer) error {
	var from uint64
	switch v := o.GetAllOption().(type) {
	case *api.ReadReq_Options_AllOptions_Position:
		from = v.Position.GetCommitPosition()
	case *api.ReadReq_Options_AllOptions_End:
		if !backwards {
			return nil
		}
		from = math.MaxUint64
	default:
		if backwards {
			return nil
		}
	}
	// Read in chunks so that a large count never holds one iterator (and its snapshot) for long.
	var chunk encodedChunk
	defer chunk.reset()
	remaining := count
	for remaining > 0 {
		chunk.reset()
		n := min(remaining, readChunk)
		if err := s.log.ScanAll(from, backwards, n, func(v *eventlog.View) bool {
			chunk.add(v, flt.match(v), stringIDs)
			return true
		}); err != nil {
			return s.toStatus(out, "$all", err)
		}
		sent, err := sendChunk(out, &chunk)
		if err != nil {
			return err
		}
		remaining -= min(remaining, sent) // a filtered read counts only what it delivers
		if uint64(len(chunk.entries)) < n {
			return nil
		}
		last := chunk.entries[len(chunk.entries)-1].pos
		if backwards {
			from = last
		} else {
			from = last + 1
		}
		if err := out.Context().Err(); err != nil {
			return status.FromContextError(err).Err()
		}
	}
	return nil
}

package runner

import (
	"context"
	"errors"
)

func (s *Service) startServers(ctx context.Context, fail func(error)) (func(), error) {
	return func() {}, nil
}

type stubPart struct{}

func (stubPart) kind() partKind                { return kindSink }
func (stubPart) component() string             { return "" }
func (stubPart) name() string                  { return "" }
func (stubPart) uses() []topicUse              { return nil }
func (stubPart) describe() any                 { return nil }
func (stubPart) run(ctx context.Context) error { return errors.New("not implemented") }

func newSinkPart[M any](s *Service, spec SinkSpec, cfg partConfig, c Codec[M], h SinkHandler[M]) part {
	return stubPart{}
}
func newViewSourcePart[M any](s *Service, spec ViewSourceSpec, cfg partConfig, c Codec[M], h ViewSourceHandler[M]) part {
	return stubPart{}
}
func newViewSinkPart[M any](s *Service, spec ViewSinkSpec, cfg partConfig, c Codec[M], h ViewSinkHandler[M]) part {
	return stubPart{}
}

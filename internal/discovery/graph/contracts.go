package graph

import "encoding/base64"

// DescriptorSet is the service's serialized FileDescriptorSet in standard
// base64, or nil when the service reported none.
func (s *Service) DescriptorSet() *string {
	if len(s.n.Descriptors) == 0 {
		return nil
	}
	out := base64.StdEncoding.EncodeToString(s.n.Descriptors)
	return &out
}

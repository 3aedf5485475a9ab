package targets

// SlimPod exposes the informer's transform to tests.
var SlimPod = slimPod

// Rejected is how many pods the source remembers a rejection of.
func (k *Kubernetes) Rejected() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.rejected)
}

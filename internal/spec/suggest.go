package spec

import (
	"cmp"
	"slices"
	"strings"
)

// closest returns up to n candidates that look like a typo of s, nearest
// first. Case and the separators '_' and '-' do not count; beyond that a
// candidate may differ by one edit per three characters.
func closest(s string, candidates []string, n int) []string {
	return closestWithin(s, candidates, n, func(c string) int { return max(1, len(c)/3) })
}

// closestWithin is closest with the allowed distance given per candidate.
func closestWithin(s string, candidates []string, n int, allowed func(candidate string) int) []string {
	type scored struct {
		name string
		dist int
	}
	ns := normalizeForMatch(s)
	var found []scored
	for _, c := range candidates {
		d := editDistance(ns, normalizeForMatch(c))
		if d <= allowed(c) {
			found = append(found, scored{c, d})
		}
	}
	slices.SortFunc(found, func(a, b scored) int {
		return cmp.Or(cmp.Compare(a.dist, b.dist), cmp.Compare(a.name, b.name))
	})
	out := make([]string, 0, min(n, len(found)))
	for _, f := range found {
		if len(out) == n {
			break
		}
		if !slices.Contains(out, f.name) {
			out = append(out, f.name)
		}
	}
	return out
}

func normalizeForMatch(s string) string {
	return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(s))
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of two neighbours each
// count one.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows are enough: the swap looks two rows back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

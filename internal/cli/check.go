package cli

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kafmesh/kafmesh/internal/contracts"
	"github.com/kafmesh/kafmesh/internal/protoc"
	"github.com/kafmesh/kafmesh/internal/spec"
)

// NewCheckCommand returns `check [DEFINITION] [--against SOURCE]`: validate
// only, for CI; with --against, also look for breaking changes.
func NewCheckCommand(env *Env) *cobra.Command {
	var against []string
	var format string
	var categories []string
	var token string
	var compat string
	cmd := &cobra.Command{
		Use:   "check [DEFINITION]",
		Short: "Validate a service definition, its components and its .proto files",
		Long: `Check loads the service definition (default docs/kafmesh/definition.yml, then
.yaml), the component files its globs match and the .proto files under its
messages directories, and reports every problem at once, sorted, as
file:line:col: message. It writes nothing. The exit status is 1 when there
is any error; warnings are printed but do not fail the check.

With --against SOURCE (repeatable), check then compares the messages of every
topic the service uses with what SOURCE knows, and reports every change that
breaks a reader or a writer of that topic (docs/contracts.md lists the
rules). SOURCE is one of:

  git:REF              the definition and .proto files of this repository at
                       REF (git:main, git:HEAD~1, git:v1.2.0), read with git
                       archive; checked in both directions
  FILE                 a serialized FileDescriptorSet (buf build -o x.binpb,
                       protoc --include_imports --descriptor_set_out); the
                       same topics and messages, checked in both directions
  http://HOST:PORT     a running kafmesh discover: every live service that
                       reads or writes a topic of this one, with its pods

The exit status is 1 when a breaking change is found. --format json prints
{"against": [...], "findings": [...]} on standard output for CI.

With --compat kafmesh2021 it accepts what the 2021 kafmesh accepted and
reports it as warnings that say the fix: unknown (dead) keys are ignored, a
component declared in two files is merged, and a message is also found by
the directory of its .proto file when the file's package line differs.
kafmesh migrate fixes the definition; the package lines are yours to fix.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return fmt.Errorf("unknown format %q; use --format text or --format json", format)
			}
			keep := map[contracts.Category]bool{}
			for _, c := range categories {
				cat := contracts.Category(strings.ToUpper(c))
				if cat != contracts.Wire && cat != contracts.WireJSON && cat != contracts.Topic {
					return fmt.Errorf("unknown category %q; use WIRE, WIRE_JSON or TOPIC", c)
				}
				keep[cat] = true
			}
			var opts []spec.Option
			switch compat {
			case "":
			case spec.CompatKafmesh2021:
				opts = append(opts, spec.WithCompat(compat))
			default:
				return fmt.Errorf("--compat %q is not known; the one value is %s", compat, spec.CompatKafmesh2021)
			}
			def, err := loadDefinition(cmd.Context(), env, args, true, opts...)
			if err != nil || len(against) == 0 {
				return err
			}
			workDir, err := env.workDir()
			if err != nil {
				return err
			}
			after := contracts.FromService("the changed schema", def.service, def.protos)
			relativize(after, workDir)
			var others []*contracts.Contract
			var names []string
			for _, src := range against {
				if token == "" {
					token = os.Getenv("KAFMESH_DISCOVER_TOKEN")
				}
				cs, err := loadAgainst(cmd.Context(), env, workDir, def.service, after, src, token)
				if err != nil {
					return fmt.Errorf("--against %s: %w", src, err)
				}
				others = append(others, cs...)
				names = append(names, src)
			}
			var findings []contracts.Finding
			for _, f := range contracts.Compare(after, others...) {
				if len(keep) == 0 || keep[f.Category] {
					findings = append(findings, f)
				}
			}
			if err := printFindings(env, format, names, findings); err != nil {
				return err
			}
			if len(findings) > 0 {
				return errReported
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&against, "against", nil, "compare with git:REF, a FileDescriptorSet file or a discover URL (repeatable)")
	cmd.Flags().StringVar(&format, "format", "text", "findings as text or json")
	cmd.Flags().StringVar(&token, "token", "", "bearer token of a discover started with --token (default $KAFMESH_DISCOVER_TOKEN)")
	cmd.Flags().StringSliceVar(&categories, "category", nil, "report only these categories: WIRE, WIRE_JSON, TOPIC (default all)")
	cmd.Flags().StringVar(&compat, "compat", "", "accept what an older kafmesh accepted, as warnings with the fix (kafmesh2021)")
	return cmd
}

func printFindings(env *Env, format string, against []string, findings []contracts.Finding) error {
	if format == "json" {
		out := struct {
			Against  []string            `json:"against"`
			Findings []contracts.Finding `json:"findings"`
		}{against, findings}
		if out.Findings == nil {
			out.Findings = []contracts.Finding{}
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	for _, f := range findings {
		fmt.Fprintln(env.Stdout, f.String())
	}
	if len(findings) > 0 {
		fmt.Fprintf(env.Stderr, "%d breaking change(s) against %s\n", len(findings), strings.Join(against, ", "))
	} else {
		fmt.Fprintf(env.Stderr, "no breaking change against %s\n", strings.Join(against, ", "))
	}
	return nil
}

// relativize shows definition positions relative to the working directory.
func relativize(c *contracts.Contract, workDir string) {
	for _, u := range c.Topics {
		if filepath.IsAbs(u.File) {
			if rel, err := filepath.Rel(workDir, u.File); err == nil && !strings.HasPrefix(rel, "..") {
				u.File = rel
			}
		}
	}
}

// loadAgainst reads one --against source into contracts.
func loadAgainst(ctx context.Context, env *Env, workDir string, svc *spec.Service, after *contracts.Contract, src, token string) ([]*contracts.Contract, error) {
	switch {
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		cs, err := contracts.FromDiscover(ctx, src, contracts.WithToken(token))
		for _, c := range cs {
			// Live pods of this very service run the older schema: a
			// baseline, checked in both directions.
			c.Both = c.Service == svc.Name
		}
		return cs, err
	case strings.HasPrefix(src, "git:"):
		ref := strings.TrimPrefix(src, "git:")
		if ref == "" || strings.HasPrefix(ref, "-") {
			return nil, fmt.Errorf("%q is not a git ref", ref)
		}
		c, err := gitBaseline(ctx, env, workDir, svc, ref)
		if err != nil {
			return nil, err
		}
		c.Name = src
		return []*contracts.Contract{c}, nil
	default:
		path := src
		if !filepath.IsAbs(path) {
			path = filepath.Join(workDir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		files, err := contracts.ParseDescriptorSet(b)
		if err != nil {
			return nil, err
		}
		return []*contracts.Contract{contracts.Baseline(src, after, files)}, nil
	}
}

// maxArchive bounds the git archive read for a git: baseline.
const maxArchive = 1 << 30

// gitBaseline loads the definition as it was at ref: it extracts the
// repository at ref (git archive) into a temporary folder, loads the
// definition at the same path there and compiles its .proto files.
func gitBaseline(ctx context.Context, env *Env, workDir string, svc *spec.Service, ref string) (*contracts.Contract, error) {
	top, err := git(ctx, workDir, "rev-parse", "--show-toplevel")
	if err != nil {
		return nil, err
	}
	top = strings.TrimSpace(top)
	if resolved, err := filepath.EvalSymlinks(top); err == nil {
		top = resolved
	}
	defFile := svc.File
	if resolved, err := filepath.EvalSymlinks(defFile); err == nil {
		defFile = resolved
	}
	rel, err := filepath.Rel(top, defFile)
	if err != nil || strings.HasPrefix(rel, "..") {
		return nil, fmt.Errorf("the definition %s is not in the git repository %s", svc.File, top)
	}
	if _, err := git(ctx, top, "rev-parse", "--verify", "--quiet", ref+"^{commit}"); err != nil {
		return nil, fmt.Errorf("no commit %q in %s", ref, top)
	}
	tmp, err := os.MkdirTemp("", "kafmesh-check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "git", "-C", top, "archive", "--format=tar", ref)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("git archive: %w", err)
	}
	extractErr := extractTar(io.LimitReader(out, maxArchive), tmp)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git archive %s: %v: %s", ref, err, strings.TrimSpace(stderr.String()))
	}
	if extractErr != nil {
		return nil, fmt.Errorf("git archive %s: %w", ref, extractErr)
	}
	if _, err := os.Stat(filepath.Join(tmp, rel)); err != nil {
		return nil, fmt.Errorf("no %s at %s", filepath.ToSlash(rel), ref)
	}
	var set *protoc.Set
	old, diags, err := spec.Load(ctx, filepath.Join(tmp, rel), spec.WithWorkDir(tmp), spec.WithMessageLoader(compileMessages(tmp, &set)))
	if err != nil {
		return nil, err
	}
	if diags.HasErrors() {
		return nil, fmt.Errorf("the definition at %s does not load:\n%s", ref, diags.String())
	}
	c := contracts.FromService("git:"+ref, old, set)
	c.Both = true
	// The baseline's files are gone when this returns; its descriptors
	// stay in memory, and findings point at the changed side only.
	return c, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// extractTar writes the regular files and directories of a tar stream
// under dir, refusing paths that leave it.
func extractTar(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.FromSlash(h.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("unsafe path %q in archive", h.Name)
		}
		target := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

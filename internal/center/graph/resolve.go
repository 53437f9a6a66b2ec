package graph

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wirewatch/wirewatch/internal/record"
)

// Node kinds.
const (
	KindHost     = "host"     // a probe's host, or an inventory host
	KindWorkload = "workload" // an inventory entry of kind workload (a service, a VM role)
	KindNetwork  = "network"  // an inventory network (a prefix wider than one address)
	KindExternal = "external" // an address nobody named
	KindGroup    = "group"    // nodes merged by a label (Options.GroupBy)
)

// Inventory limits: an inventory is configuration, but a huge or
// malformed file must fail with a message, not eat the center's memory.
const (
	MaxInventoryBytes   = 32 << 20
	MaxInventoryEntries = 200_000
	maxNameLen          = 253
	maxLabels           = 64
	maxLabelKeyLen      = 128
	maxLabelValueLen    = 256
)

// Inventory is a static list of hosts and networks with tags, for the
// addresses no probe runs on (VMs without a probe, databases, partner
// networks). In YAML:
//
//	entries:
//	  - cidr: 10.1.2.3
//	    name: billing-db
//	    labels: {env: prod, archdomain: billing, owner: team-pay}
//	  - cidr: 10.8.0.0/16
//	    name: office
//	    kind: network
type Inventory struct {
	Entries []InventoryEntry `yaml:"entries" json:"entries"`
}

// InventoryEntry names one address or prefix.
type InventoryEntry struct {
	// CIDR is an address ("10.1.2.3", "fd00::1") or a prefix
	// ("10.8.0.0/16") without host bits.
	CIDR string `yaml:"cidr" json:"cidr"`
	// Name is the node's name; entries with the same kind and name are
	// one node (a host listed once per address). Default: the CIDR.
	Name string `yaml:"name" json:"name"`
	// Kind is host, workload or network. Default: host for a single
	// address, network for a wider prefix.
	Kind   string            `yaml:"kind" json:"kind"`
	Labels map[string]string `yaml:"labels" json:"labels"`
}

// LoadInventory reads and validates an inventory file.
func LoadInventory(path string) (*Inventory, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxInventoryBytes+1))
	if err != nil {
		return nil, fmt.Errorf("inventory %s: %w", path, err)
	}
	inv, err := ParseInventory(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return inv, nil
}

// ParseInventory decodes and validates an inventory document. Unknown
// keys are errors, so that a mistyped key does not silently drop tags.
func ParseInventory(data []byte) (*Inventory, error) {
	if len(data) > MaxInventoryBytes {
		return nil, fmt.Errorf("inventory: larger than %d bytes", MaxInventoryBytes)
	}
	var inv Inventory
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&inv); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("inventory: %w", err)
	}
	if err := inv.Validate(); err != nil {
		return nil, err
	}
	return &inv, nil
}

// Validate checks every entry; the message names the entry and its key.
func (inv *Inventory) Validate() error {
	if len(inv.Entries) > MaxInventoryEntries {
		return fmt.Errorf("inventory: entries: %d entries, at most %d", len(inv.Entries), MaxInventoryEntries)
	}
	seen := make(map[netip.Prefix]int, len(inv.Entries))
	for i, e := range inv.Entries {
		where := fmt.Sprintf("inventory: entries[%d]", i)
		p, err := parseCIDR(e.CIDR)
		if err != nil {
			return fmt.Errorf("%s.cidr: %w", where, err)
		}
		if j, dup := seen[p]; dup {
			return fmt.Errorf("%s.cidr: %s is also entries[%d]", where, p, j)
		}
		seen[p] = i
		if len(e.Name) > maxNameLen {
			return fmt.Errorf("%s.name: longer than %d bytes", where, maxNameLen)
		}
		switch e.Kind {
		case "", KindHost, KindWorkload, KindNetwork:
		default:
			return fmt.Errorf("%s.kind: %q: want host, workload or network", where, e.Kind)
		}
		if err := checkLabels(e.Labels); err != nil {
			return fmt.Errorf("%s.labels: %w", where, err)
		}
	}
	return nil
}

// parseCIDR accepts an address or a prefix without host bits.
func parseCIDR(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, errors.New("missing")
	}
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or a CIDR", s)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("%q: zones are not allowed", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or a CIDR", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("%q has host bits set (the network is %s)", s, p.Masked())
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p, nil
}

func checkLabels(l map[string]string) error {
	if len(l) > maxLabels {
		return fmt.Errorf("%d labels, at most %d", len(l), maxLabels)
	}
	for k, v := range l {
		if k == "" || len(k) > maxLabelKeyLen {
			return fmt.Errorf("label name %q: want 1 to %d bytes", k, maxLabelKeyLen)
		}
		if len(v) > maxLabelValueLen {
			return fmt.Errorf("label %q: value longer than %d bytes", k, maxLabelValueLen)
		}
	}
	return nil
}

// Identity is what an address resolves to. Identities with the same ID
// are one node; Labels is shared between them and must not be modified.
type Identity struct {
	ID     string
	Name   string
	Kind   string
	Labels map[string]string
}

// Resolver names addresses. It is immutable once built and safe for
// concurrent use.
type Resolver struct {
	hosts map[netip.Addr]*Identity
	// Inventory prefixes by length, longest first, per family: a lookup
	// tries each length once (at most 33 + 129 map probes).
	v4, v6 []prefixLevel
}

type prefixLevel struct {
	bits    int
	entries map[netip.Prefix]*Identity
}

// NewResolver builds a Resolver from the probes (each probe's Addresses
// are its host: node name = hostname, or the probe ID without one;
// labels = the probe's labels) and an optional inventory.
//
// Rules, in order:
//   - an address a probe reports as its own is that probe's host, unless
//     probes on different hosts all report it (the docker bridge
//     172.17.0.1 on every node): such an address is ambiguous and
//     resolves by the inventory or as external. Loopback, link-local,
//     multicast and unspecified addresses never name a host;
//   - otherwise the most specific inventory entry containing the address;
//   - otherwise the address is an external node named by the address.
//
// A host named both by probes and by inventory host entries is one node:
// its labels are the inventory's, overridden by the probes'. Probes on
// the same host (same hostname) are one node whose labels are the union
// of theirs, the lowest probe ID winning a conflict.
func NewResolver(probes []record.ProbeInfo, inv *Inventory) (*Resolver, error) {
	r := &Resolver{hosts: map[netip.Addr]*Identity{}}
	ids := map[string]*Identity{} // by ID: one node, one label map
	identity := func(kind, name string) *Identity {
		id := kind + ":" + name
		n := ids[id]
		if n == nil {
			n = &Identity{ID: id, Name: name, Kind: kind, Labels: map[string]string{}}
			ids[id] = n
		}
		return n
	}
	sorted := slices.Clone(probes)
	slices.SortFunc(sorted, func(a, b record.ProbeInfo) int { return cmp.Compare(a.ID, b.ID) })
	owner := map[netip.Addr]*Identity{}
	ambiguous := map[netip.Addr]bool{}
	probeLabels := map[*Identity]map[string]string{}
	for _, p := range sorted {
		name := p.Hostname
		if name == "" {
			name = p.ID
		}
		if name == "" {
			continue
		}
		n := identity(KindHost, name)
		pl := probeLabels[n]
		if pl == nil {
			pl = map[string]string{}
			probeLabels[n] = pl
		}
		for k, v := range p.Labels {
			if _, ok := pl[k]; !ok {
				pl[k] = v
			}
		}
		for _, a := range p.Addresses {
			a = a.Unmap().WithZone("")
			if !a.IsValid() || a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() {
				continue
			}
			if o, ok := owner[a]; ok && o != n {
				ambiguous[a] = true
				continue
			}
			owner[a] = n
		}
	}
	for a, n := range owner {
		if !ambiguous[a] {
			r.hosts[a] = n
		}
	}
	if inv != nil {
		if err := inv.Validate(); err != nil {
			return nil, err
		}
		levels := map[int]map[netip.Prefix]*Identity{} // key: bits, IPv6 as bits+1000
		for _, e := range inv.Entries {
			p, _ := parseCIDR(e.CIDR) // validated above
			kind := e.Kind
			if kind == "" {
				kind = KindNetwork
				if p.IsSingleIP() {
					kind = KindHost
				}
			}
			name := e.Name
			if name == "" {
				name = p.String()
				if p.IsSingleIP() {
					name = p.Addr().String()
				}
			}
			n := identity(kind, name)
			for k, v := range e.Labels {
				if _, ok := n.Labels[k]; !ok {
					n.Labels[k] = v
				}
			}
			key := p.Bits()
			if p.Addr().Is6() {
				key += 1000
			}
			if levels[key] == nil {
				levels[key] = map[netip.Prefix]*Identity{}
			}
			levels[key][p] = n
		}
		for key, m := range levels {
			if key >= 1000 {
				r.v6 = append(r.v6, prefixLevel{bits: key - 1000, entries: m})
			} else {
				r.v4 = append(r.v4, prefixLevel{bits: key, entries: m})
			}
		}
		longestFirst := func(a, b prefixLevel) int { return cmp.Compare(b.bits, a.bits) }
		slices.SortFunc(r.v4, longestFirst)
		slices.SortFunc(r.v6, longestFirst)
	}
	// Probe labels override inventory labels of the same host.
	for n, pl := range probeLabels {
		maps.Copy(n.Labels, pl)
	}
	return r, nil
}

// Resolve names an address.
func (r *Resolver) Resolve(a netip.Addr) Identity {
	a = a.Unmap().WithZone("")
	if n := r.hosts[a]; n != nil {
		return *n
	}
	levels := r.v4
	if a.Is6() {
		levels = r.v6
	}
	for _, l := range levels {
		p, err := a.Prefix(l.bits)
		if err != nil {
			continue
		}
		if n := l.entries[p]; n != nil {
			return *n
		}
	}
	s := a.String()
	return Identity{ID: KindExternal + ":" + s, Name: s, Kind: KindExternal}
}

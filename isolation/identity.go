package isolation

// This file resolves the user and group a child runs as.

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"syscall"
)

// identity is who a child runs as.
type identity struct {
	// drop is true when the host runs as root and the child is started as
	// uid/gid; false when the host is not root (the child runs as the
	// host's user and uid/gid are that user's).
	drop        bool
	uid, gid    uint32
	user, group string // names for logs ("" when unknown)
	// fallback says why the user is not the one configured or found (a
	// directory owned by root).
	fallback string
}

// nobody is used for a directory owned by root when no user is
// configured.
const (
	nobodyUser  = "nobody"
	nobodyGroup = "nogroup"
	nobodyID    = 65534
)

// errRoot refuses to run a script as root.
var errRoot = errors.New("refusing to run an isolated app as root")

// resolveIdentity finds the user and group of a child: userName and
// groupName as configured (names or numeric ids), else the owner of dir
// and that user's primary group; a root-owned dir gives nobody/nogroup.
// Never uid or gid 0. When euid is not 0 the child runs as the host's
// user and nothing is looked up.
func resolveIdentity(userName, groupName, dir string, euid int) (identity, error) {
	if euid != 0 {
		return identity{uid: uint32(os.Getuid()), gid: uint32(os.Getgid())}, nil
	}
	id := identity{drop: true}
	switch {
	case userName != "":
		u, err := lookupUser(userName)
		if err != nil {
			return id, err
		}
		id.uid, id.gid, id.user = u.uid, u.gid, u.name
		if id.uid == 0 {
			return id, fmt.Errorf("%w (user %q)", errRoot, userName)
		}
	default:
		fi, err := os.Stat(dir)
		if err != nil {
			return id, fmt.Errorf("owner of %s: %w", dir, err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return id, fmt.Errorf("owner of %s: no owner information", dir)
		}
		id.uid, id.gid = st.Uid, st.Gid
		// A user with a passwd entry runs in its primary group; an owner
		// with none in the directory's group.
		if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
			if g, err := strconv.ParseUint(u.Gid, 10, 32); err == nil {
				id.gid, id.user = uint32(g), u.Username
			}
		}
		if id.uid == 0 {
			id.fallback = "the directory " + dir + " is owned by root"
			id.uid, id.gid, id.user = nobodyID, nobodyID, nobodyUser
			if u, err := lookupUser(nobodyUser); err == nil && u.uid != 0 {
				id.uid, id.gid, id.user = u.uid, u.gid, u.name
			}
		}
	}
	if groupName != "" {
		g, err := lookupGroup(groupName)
		if err != nil {
			return id, err
		}
		if g.gid == 0 {
			return id, fmt.Errorf("%w (group %q)", errRoot, groupName)
		}
		id.gid, id.group = g.gid, g.name
	} else if id.gid == 0 {
		id.gid, id.group = nobodyID, nobodyGroup
		if g, err := lookupGroup(nobodyGroup); err == nil && g.gid != 0 {
			id.gid = g.gid
		}
	} else if g, err := user.LookupGroupId(strconv.Itoa(int(id.gid))); err == nil {
		id.group = g.Name
	}
	return id, nil
}

type account struct {
	uid, gid uint32
	name     string
}

// lookupUser finds a user by name or numeric id.
func lookupUser(s string) (account, error) {
	u, err := user.Lookup(s)
	if err != nil {
		if _, nerr := strconv.ParseUint(s, 10, 32); nerr == nil {
			u, err = user.LookupId(s)
			if err != nil {
				// A numeric uid with no passwd entry is allowed; its group is
				// the same number.
				n, _ := strconv.ParseUint(s, 10, 32)
				return account{uid: uint32(n), gid: uint32(n)}, nil
			}
		}
	}
	if err != nil {
		return account{}, fmt.Errorf("user %q: %w", s, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return account{}, fmt.Errorf("user %q: non-numeric ids %s:%s", s, u.Uid, u.Gid)
	}
	return account{uid: uint32(uid), gid: uint32(gid), name: u.Username}, nil
}

// lookupGroup finds a group by name or numeric id.
func lookupGroup(s string) (account, error) {
	g, err := user.LookupGroup(s)
	if err != nil {
		if n, nerr := strconv.ParseUint(s, 10, 32); nerr == nil {
			if g, err = user.LookupGroupId(s); err != nil {
				return account{gid: uint32(n)}, nil
			}
		}
	}
	if err != nil {
		return account{}, fmt.Errorf("group %q: %w", s, err)
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return account{}, fmt.Errorf("group %q: non-numeric id %s", s, g.Gid)
	}
	return account{gid: uint32(gid), name: g.Name}, nil
}

func (id identity) String() string {
	u, g := id.user, id.group
	if u == "" {
		u = strconv.Itoa(int(id.uid))
	}
	if g == "" {
		g = strconv.Itoa(int(id.gid))
	}
	return u + ":" + g
}

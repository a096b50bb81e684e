package lua

import "testing"

func TestSmoke(t *testing.T) {
	s, err := run(t, `local hits = 0
return function(req, res)
  hits = hits + 1
  res:header("Content-Type", "text/plain")
  res:write("hello ", req.query.name or "world", " #", hits)
end`)
	t.Logf("%v %d %v %q", err, s.status, s.header, s.body.String())
}

package conformance

import (
	"errors"

	"github.com/fcgihost/fcgihost/script"
)

func isBadRequest(err error) bool { return errors.Is(err, script.ErrBadRequest) }

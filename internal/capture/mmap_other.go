//go:build !unix

package capture

import "os"

// openMapped: files are read with read(2) on this platform.
func openMapped(*os.File, int64, string, FileOptions) (Source, bool, error) {
	return nil, false, nil
}

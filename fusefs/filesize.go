package fusefs

import (
	"context"
	"fmt"
	"syscall"
)

// MaxFileSize is the largest file a SharePoint Online library holds:
// 250 GB, which rclone's OneDrive backend reads as 250 GiB
// (docs/sharepoint.md). A truncate or write past it fails with EFBIG at
// once, as on a local filesystem's size limit, instead of staging a file
// that no upload can ever deliver.
const MaxFileSize int64 = 250 << 30

// checkFileSize answers EFBIG, with a log line naming the file, when op
// would make p end past MaxFileSize.
func (r *Root) checkFileSize(ctx context.Context, op, p string, end int64) syscall.Errno {
	if end <= MaxFileSize {
		return 0
	}
	r.log.Warn(op+" failed", "path", p, "errno", syscall.EFBIG.Error(),
		"err", fmt.Sprintf("%d bytes is more than the %d a SharePoint file can hold", end, MaxFileSize))
	return syscall.EFBIG
}

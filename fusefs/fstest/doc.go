// Package fstest mounts odfb's filesystem for real in tests and cleans up
// after them: Mount (over any remote.Remote, such as remotetest.Fake or a
// davclient talking to spemu), Unmount for remount tests, and a cleanup
// that unmounts even when the test fails and then checks that no mount is
// left behind. StartSpemu starts an in-process emulator and a davclient
// for it.
//
// Mount tests need root and /dev/fuse: they call testenv.NeedFUSE, which
// skips on a developer machine and fails in CI (ODFB_REQUIRE_TOOLS=1).
package fstest

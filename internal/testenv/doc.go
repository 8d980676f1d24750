// Package testenv decides what a test does when something it needs from
// the machine (a program, /dev/fuse, root) is missing.
//
// On a developer's machine such a test is skipped with the reason. When
// ODFB_REQUIRE_TOOLS=1 (CI sets it in .ci/run) the same test fails
// instead, so a CI run can never pass by skipping the tests that matter.
package testenv

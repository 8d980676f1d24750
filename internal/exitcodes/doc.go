// Package exitcodes is the numbered list of odfb's exit codes, so that
// scripts and systemd units can branch on them. The numbers never change
// meaning; new ones are added at the end.
package exitcodes

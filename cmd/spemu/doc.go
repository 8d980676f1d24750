// Command spemu runs the SharePoint Online emulator (package spemu) from
// the command line: it serves one document library from a directory and
// prints the library URL as the first line of stdout once it is listening.
//
// Exit codes: 0 after SIGINT/SIGTERM, 1 when it cannot start or serve,
// 2 for a usage error.
package main

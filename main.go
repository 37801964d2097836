// Command reelay watches a friend's recording straight from their machine.
package main

import (
	"os"

	"reelay/app/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}

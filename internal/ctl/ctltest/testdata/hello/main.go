// SPDX-License-Identifier: Apache-2.0

// Command hello is a minimal main package for the build test of ctltest.
package main

import "fmt"

func main() { fmt.Println("hello") }

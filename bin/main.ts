/** The `parapet` command: assembles the subcommands of every folder. */
console.log('parapet');

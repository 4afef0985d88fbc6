/* branchctl: everything but main() is in branchctl_core (run.c). */
#include "commands.h"

int main(int argc, char **argv)
{
    return cli_main(argc, argv);
}

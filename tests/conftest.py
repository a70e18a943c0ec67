"""Suite-wide settings: tiny models run fastest on one thread (2-core CI machines); Ctrl-C behaves as in a terminal."""

import signal

import torch

torch.set_num_threads(1)

# A suite started in the background by a non-interactive shell (`make test &`, nohup) inherits SIGINT
# ignored, and so would every process it starts: the tests that press Ctrl-C need the default.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

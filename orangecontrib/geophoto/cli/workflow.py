"""``geophoto workflow FILE.ows``: run a workflow headless and report its widgets' messages,
e.g. to check the example workflows on a classroom machine before a workshop."""
import os
import sys
import time

from orangecontrib.geophoto.cli import CommandError


def register(subparsers):
    parser = subparsers.add_parser(
        "workflow", help="run an Orange workflow (.ows) headless and report errors",
        description="Load an Orange workflow without opening the canvas, let every widget "
                    "finish, and print the errors and warnings its widgets show. Exit status "
                    "1 when a widget shows an error, when a source widget (Import Images) "
                    "sends no data, or when a widget gets data but only warns and sends "
                    "nothing on: the rest of the workflow would have nothing to work on. "
                    "Without a display, Qt draws offscreen. Loading a workflow unpickles "
                    "its widgets' settings, which can run code: check only workflows you "
                    "trust.")
    parser.add_argument("path", metavar="FILE.ows", help="the workflow")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds to wait for the widgets (default 600)")
    parser.set_defaults(run=run)


def run(args) -> int:
    if not os.path.isfile(args.path):
        raise CommandError(f"{args.path}: no such workflow file")
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from orangecontrib.geophoto.widgets import workflow
    workflow.isolate_widget_settings()
    app = workflow.ensure_application()  # noqa: F841 (kept alive while widgets run)
    start = time.perf_counter()
    scheme = workflow.load_scheme(args.path)
    try:
        workflow.run_until_settled(scheme, timeout=args.timeout)
        found = workflow.check(scheme)
        for message in found:
            print(f"{message.node}: {message.severity}: {message.text}")
        errors = len({m.node for m in found if m.severity == "error"})
        if not args.quiet:
            print(f"{len(scheme.nodes)} widgets finished in {time.perf_counter() - start:.1f} s"
                  f"; {errors} with errors", file=sys.stderr)
        return 1 if errors else 0
    except TimeoutError as ex:
        raise CommandError(str(ex)) from ex
    finally:
        workflow.dispose(scheme)

from django.core.management.base import BaseCommand

from personalization.edge.rebuild import edge_rebuild


class Command(BaseCommand):
    help = (
        "Fill the edge store from the database: every datastream config and every identity's profile facts, "
        "replaced in place while lookups go on (--clear drops the store first)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--sandbox", type=int, help="Only this sandbox id.")
        parser.add_argument("--chunk-size", type=int, default=5000, help="Identities per query and per Redis write.")
        parser.add_argument("--clear", action="store_true", help="Drop every edge entry first (lookups go cold).")

    def handle(self, *args, sandbox=None, chunk_size=5000, clear=False, **options):
        result = edge_rebuild(sandbox_id=sandbox, chunk_size=chunk_size, clear=clear)
        self.stdout.write(
            self.style.SUCCESS("Rebuilt %(datastreams)d datastream configs and %(answers)d lookup answers." % result)
        )

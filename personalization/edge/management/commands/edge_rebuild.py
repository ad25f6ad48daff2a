from django.core.management.base import BaseCommand

from personalization.edge.rebuild import edge_rebuild


class Command(BaseCommand):
    help = "Drop the edge store and rebuild every datastream config and every identity's lookup answer."

    def add_arguments(self, parser):
        parser.add_argument("--sandbox", type=int, help="Only this sandbox id.")
        parser.add_argument("--chunk-size", type=int, default=2000)

    def handle(self, *args, sandbox=None, chunk_size=2000, **options):
        result = edge_rebuild(sandbox_id=sandbox, chunk_size=chunk_size)
        self.stdout.write(
            self.style.SUCCESS("Rebuilt %(datastreams)d datastream configs and %(answers)d lookup answers." % result)
        )

"""The Kafka boundary: the only package that imports aiokafka.

Everything else uses these small types; aiokafka's errors are translated
here into the project's (:mod:`processor.errors`).
"""

from processor.kafka import connections
from processor.kafka.partitioner import murmur2_signed, partition_for
from processor.kafka.producer import Delivered, Publisher

connections.install()

__all__ = ["Delivered", "Publisher", "murmur2_signed", "partition_for"]

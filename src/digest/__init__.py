"""digest: newsletters and social digests for union and nonprofit communications teams."""

__version__ = "0.1.0"

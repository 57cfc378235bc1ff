"""Channel adapters (渠道适配器), one module per provider kind (``delivery.models.ADAPTER_KINDS``).

Each module defines a class built as ``Adapter(channel_code, settings, secrets)`` that satisfies
``contacts.channels.ChannelAdapter`` (``name`` and ``send(messages) -> list[SendResult]``); ``KINDS``
maps an adapter kind to its class and ``delivery.registry`` builds the adapter for a channel row.
"""

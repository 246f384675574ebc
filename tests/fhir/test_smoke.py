from tests.factories import patient


async def test_create_then_read_returns_the_stored_bytes(client):
    created = await client.post("Patient", json=patient())
    assert created.status_code == 201
    read = await client.get(f"Patient/{created.json()['id']}")
    assert read.status_code == 200
    assert read.content == created.content

from tests.ingest.mappings.test_csv_centres import *  # noqa

async def test_missing_optional_column(client):
    header = SG_HEADER.replace(",Postcode", "")
    row = ",".join(v for k, v in SG_FIELDS.items() if k != "Postcode")
    r = await client.post("http://testserver/ingest/st-georges", content=sg_file(row, header=header), headers=CSV)
    print(r.status_code, r.text[:1500])
    assert r.status_code == 200

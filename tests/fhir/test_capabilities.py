"""GET metadata: the CapabilityStatement says what the server does, and only that."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement  # noqa: TID251

from app.search.parameters import parameters_for
from tests.factories import JSON_PATCH_HEADERS, NHS_NUMBER, patient

# Every resource type of FHIR R4 (4.0.1), as listed by the HL7 reference implementation's
# R4 ResourceType enumeration: an independent source from the server's own definitions.
R4_RESOURCE_TYPES = frozenset(
    """
    Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment AppointmentResponse
    AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure Bundle CapabilityStatement
    CarePlan CareTeam CatalogEntry ChargeItem ChargeItemDefinition Claim ClaimResponse
    ClinicalImpression CodeSystem Communication CommunicationRequest CompartmentDefinition
    Composition ConceptMap Condition Consent Contract Coverage CoverageEligibilityRequest
    CoverageEligibilityResponse DetectedIssue Device DeviceDefinition DeviceMetric DeviceRequest
    DeviceUseStatement DiagnosticReport DocumentManifest DocumentReference EffectEvidenceSynthesis
    Encounter Endpoint EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence
    EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal
    GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
    ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan Invoice
    Library Linkage List Location Measure MeasureReport Media Medication MedicationAdministration
    MedicationDispense MedicationKnowledge MedicationRequest MedicationStatement MedicinalProduct
    MedicinalProductAuthorization MedicinalProductContraindication MedicinalProductIndication
    MedicinalProductIngredient MedicinalProductInteraction MedicinalProductManufactured
    MedicinalProductPackaged MedicinalProductPharmaceutical MedicinalProductUndesirableEffect
    MessageDefinition MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
    ObservationDefinition OperationDefinition OperationOutcome Organization
    OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person
    PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire
    QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition ResearchElementDefinition
    ResearchStudy ResearchSubject RiskAssessment RiskEvidenceSynthesis Schedule SearchParameter
    ServiceRequest Slot Specimen SpecimenDefinition StructureDefinition StructureMap Subscription
    Substance SubstanceNucleicAcid SubstancePolymer SubstanceProtein SubstanceReferenceInformation
    SubstanceSourceMaterial SubstanceSpecification SupplyDelivery SupplyRequest Task
    TerminologyCapabilities TestReport TestScript ValueSet VerificationResult VisionPrescription
    """.split()  # noqa: SIM905
)
TYPE_INTERACTIONS = {
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
}
SYSTEM_INTERACTIONS = {"transaction", "batch", "search-system", "history-system"}
# R4 types with an ``identifier`` search parameter in the base specification (a sample), and
# the SearchParameter defining it.
WITH_IDENTIFIER = {
    "Patient": "Patient-identifier",
    "Organization": "Organization-identifier",
    "Bundle": "Bundle-identifier",
    "ServiceRequest": "clinical-identifier",
    "Procedure": "clinical-identifier",
    "Encounter": "clinical-identifier",
}
WITHOUT_IDENTIFIER = ("Binary", "Parameters", "OperationOutcome", "Subscription")


@pytest.fixture
async def statement(client):
    response = await client.get("metadata")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/fhir+json; charset=utf-8"
    return response.json()


def _resources(statement: dict[str, Any]) -> dict[str, Any]:
    [rest] = statement["rest"]
    return {r["type"]: r for r in rest["resource"]}


def test_r4_list_has_every_resource_type():
    assert len(R4_RESOURCE_TYPES) == 146


async def test_metadata_is_an_r4_capability_statement_for_this_instance(statement):
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["status"] == "active"
    assert statement["kind"] == "instance"
    assert statement["implementation"]["url"] == "http://testserver/fhir"
    assert "application/fhir+json" in statement["format"]
    assert statement["patchFormat"] == ["application/json-patch+json"]
    assert [r["mode"] for r in statement["rest"]] == ["server"]


async def test_metadata_validates_as_a_capability_statement(statement):
    model = CapabilityStatement.model_validate(statement)

    assert model.fhirVersion == "4.0.1"
    assert model.rest is not None
    assert len(model.rest[0].resource or []) == len(statement["rest"][0]["resource"])


async def test_metadata_lists_every_r4_resource_type(statement):
    listed = set(_resources(statement))

    assert R4_RESOURCE_TYPES - listed == set()


async def test_metadata_lists_no_type_outside_r4(statement):
    listed = [r["type"] for r in statement["rest"][0]["resource"]]

    assert len(listed) == len(set(listed))
    assert set(listed) - R4_RESOURCE_TYPES == set()


async def test_every_resource_declares_the_instance_and_type_interactions(statement):
    for res_type, resource in _resources(statement).items():
        codes = [i["code"] for i in resource["interaction"]]
        assert set(codes) == TYPE_INTERACTIONS, res_type
        assert len(codes) == len(set(codes)), res_type


async def test_every_resource_declares_versioning_and_conditional_support(statement):
    for res_type, resource in _resources(statement).items():
        assert resource["versioning"] == "versioned-update", res_type
        assert resource["readHistory"] is True
        assert resource["updateCreate"] is True
        assert resource["conditionalCreate"] is True
        assert resource["conditionalUpdate"] is True
        assert resource["conditionalDelete"] == "single"
        assert resource["conditionalRead"] == "not-match"
        assert resource["profile"] == f"http://hl7.org/fhir/StructureDefinition/{res_type}"


async def test_system_interactions_are_declared(statement):
    codes = [i["code"] for i in statement["rest"][0]["interaction"]]

    assert set(codes) == SYSTEM_INTERACTIONS


async def test_search_parameters_are_declared_where_they_apply(statement):
    resources = _resources(statement)

    for res_type, resource in resources.items():
        names = {p["name"] for p in resource["searchParam"]}
        assert {"_id", "_lastUpdated"} <= names, res_type
    for res_type, definition in WITH_IDENTIFIER.items():
        [param] = [p for p in resources[res_type]["searchParam"] if p["name"] == "identifier"]
        assert param["type"] == "token"
        assert param["definition"] == f"http://hl7.org/fhir/SearchParameter/{definition}"
    for res_type in WITHOUT_IDENTIFIER:
        assert "identifier" not in {p["name"] for p in resources[res_type]["searchParam"]}
    system = {p["name"] for p in statement["rest"][0]["searchParam"]}
    assert {"_id", "_lastUpdated"} <= system


async def test_every_declared_search_parameter_is_accepted_strictly(client, statement):
    """A declared parameter must not be reported as unknown, even with handling=strict."""
    samples = {
        "token": "x",
        "date": "ge2000-01-01",
        "string": "x",
        "reference": "Patient/x",
        "quantity": "5",
        "number": "5",
        "uri": "http://x",
    }

    def sample(res_type: str, param: dict[str, str]) -> str:
        if param["type"] != "composite":
            return samples[param["type"]]
        components = parameters_for(res_type)[param["name"]].components
        return "$".join(samples[c.type] for c in components)

    for res_type, resource in _resources(statement).items():
        params = {p["name"]: sample(res_type, p) for p in resource["searchParam"]}
        response = await client.get(res_type, params=params, headers={"Prefer": "handling=strict"})
        assert response.status_code == 200, (res_type, response.text)
        assert response.json()["total"] == 0


async def test_declared_patient_interactions_are_all_served(client, statement):
    """Each interaction the statement declares for Patient answers with success."""
    declared = {i["code"] for i in _resources(statement)["Patient"]["interaction"]}
    patch_ops = json.dumps([{"op": "replace", "path": "/gender", "value": "male"}])
    calls = {
        "create": lambda: client.post("Patient", json=patient()),
        "update": lambda: client.put("Patient/p1", json=patient(id="p1")),
        "read": lambda: client.get("Patient/p1"),
        "vread": lambda: client.get("Patient/p1/_history/1"),
        "patch": lambda: client.patch("Patient/p1", content=patch_ops, headers=JSON_PATCH_HEADERS),
        "history-instance": lambda: client.get("Patient/p1/_history"),
        "history-type": lambda: client.get("Patient/_history"),
        "search-type": lambda: client.get(
            "Patient", params={"identifier": f"{NHS_NUMBER}|9000000009"}
        ),
        "delete": lambda: client.delete("Patient/p1"),
    }
    assert set(calls) == declared
    for code in (
        "update",
        "create",
        "read",
        "vread",
        "patch",
        "history-instance",
        "history-type",
        "search-type",
        "delete",
    ):
        response = await calls[code]()
        assert response.status_code in (200, 201, 204), (code, response.text)


async def test_declared_system_interactions_are_all_served(client):
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": []}
    batch = {"resourceType": "Bundle", "type": "batch", "entry": []}

    assert (await client.post("", json=transaction)).status_code == 200
    assert (await client.post("", json=batch)).status_code == 200
    assert (await client.get("", params={"_type": "Patient"})).status_code == 200
    assert (await client.get("_history")).status_code == 200


async def test_includes_and_revincludes_are_declared_from_reference_parameters(client, statement):
    resources = _resources(statement)

    assert "ServiceRequest:subject" in resources["ServiceRequest"]["searchInclude"]
    assert "*" in resources["ServiceRequest"]["searchInclude"]
    assert "ServiceRequest:subject" in resources["Patient"]["searchRevInclude"]
    assert "Procedure:based-on" in resources["ServiceRequest"]["searchRevInclude"]
    assert "Patient:general-practitioner" not in resources["ServiceRequest"]["searchRevInclude"]

    included = await client.get(
        "ServiceRequest",
        params={"_include": "ServiceRequest:subject"},
        headers={"Prefer": "handling=strict"},
    )
    assert included.status_code == 200

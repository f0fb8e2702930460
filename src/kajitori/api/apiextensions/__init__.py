"""apiextensions.k8s.io: CustomResourceDefinitions and the custom resources they define.

Mirrors staging/src/k8s.io/apiextensions-apiserver: `validation` (the CRD's own rules),
`structural` (structural schema invariants), `schemavalidation`, `pruning` and `defaulting`
(custom objects against their version's openAPIV3Schema), `tableconvertor` and `jsonpath`
(additionalPrinterColumns), `customresourcedefinition` (the CRD strategy, conditions, served
resources), `customresource` (one version's strategy for its objects) and `openapibuilder`
(the OpenAPI v3 document of a custom group-version). The apiserver loop that turns stored
CRDs into served resources is `kajitori.apiserver.customresources`.
"""

// AWS's XML answers (S3, STS), read with Boost.PropertyTree. Text is kept
// exactly as sent, spaces included: an S3 key may begin or end with one.
#pragma once
#include <boost/property_tree/ptree.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "base/result.hpp"

namespace mirrortap::cloud {

using XmlTree = boost::property_tree::ptree;

// The document, or why not (one line) when it is not well-formed XML or is
// larger than max_bytes.
mirrortap::Result<XmlTree> parse_xml(std::string_view text, size_t max_bytes = 16 << 20);

// The first child element called `name`, or nullptr.
const XmlTree* xml_child(const XmlTree& node, std::string_view name);

// The text of the first child element called `name`; "" when there is none.
std::string xml_text(const XmlTree& node, std::string_view name);

// `text` with &, < and > written as entities, for element text in request
// bodies (quotes stay: S3 expects an ETag's quotes as they are).
std::string xml_escape(std::string_view text);

}  // namespace mirrortap::cloud
